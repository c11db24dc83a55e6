"""Repository tools: explore the code before changing it. A tree listing, a code search, several files read at once,
and a branch's diff against its base, over either GitHub backend (runtime/github/local.py: dulwich and `git grep`
on the bare remote; rest.py: GitHub's git trees API, blobs and compare API).

The backends return everything; these tools cut what a model is shown. A cut is never silent: the result says
`truncated: true`, its `note` says what was left out and how to see it, and cut text ends with `TRUNCATED` and the
number of characters left out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.github.backend import listing
from runtime.tools.base import ToolContext
from runtime.tools.spec import ToolResultModel, ToolSpec

MAX_ENTRIES = 400  # tree entries in one listing
MAX_MATCH_CHARS = 300  # characters of one matching line
MAX_FILE_CHARS = 40_000  # characters of one file in repo_read_files
MAX_READ_CHARS = 120_000  # characters of all files in one repo_read_files call
MAX_DIFF_CHARS = 60_000
MAX_FILES_PER_READ = 20
TRUNCATED = "[aidlc: TRUNCATED, {left} more characters not shown]"


def clip(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to about `limit` characters with the marker at the cut, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit] + "\n" + TRUNCATED.format(left=len(text) - limit), True


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListFilesArgs(_Args):
    path: str = Field(default="", description="Folder to list, e.g. 'src/app' (default: the repository root)")
    depth: int = Field(default=2, ge=1, le=20, description="Levels below `path` to show; deeper folders are "
                       "summarised as {path, type: 'dir', files: <count>}")
    ref: str | None = Field(default=None, description="Branch or commit (default: the default branch)")


class SearchCodeArgs(_Args):
    pattern: str = Field(min_length=1, description="Regular expression (Python syntax) matched against each line")
    path_glob: str | None = Field(default=None, description="Only paths matching this glob, e.g. '*.py' or "
                                  "'src/**/test_*.py'")
    ref: str | None = Field(default=None, description="Branch or commit (default: the default branch)")
    max_results: int = Field(default=100, ge=1, le=500, description="At most this many matching lines")


class ReadFilesArgs(_Args):
    paths: list[str] = Field(min_length=1, max_length=MAX_FILES_PER_READ, description="Repository-relative paths")
    ref: str | None = Field(default=None, description="Branch or commit (default: the default branch)")


class BranchDiffArgs(_Args):
    branch: str = Field(min_length=1, description="The branch with the changes")
    base: str | None = Field(default=None, description="Compared against (default: the default branch)")


class TreeEntry(ToolResultModel):
    path: str
    type: str = Field(description="'file' or 'dir'")
    size: int | None = None
    files: int | None = Field(default=None, description="For a 'dir' cut off by the depth: files under it")


class ListFilesResult(ToolResultModel):
    ref: str
    sha: str
    path: str
    depth: int
    entries: list[TreeEntry]
    total_files: int = Field(ge=0, description="Files under `path` at any depth")
    truncated: bool = False
    note: str | None = None


class Match(ToolResultModel):
    path: str
    line: int = Field(ge=1)
    text: str


class SearchCodeResult(ToolResultModel):
    ref: str
    pattern: str
    path_glob: str | None = None
    matches: list[Match]
    truncated: bool = False
    note: str | None = None


class FileContent(ToolResultModel):
    path: str
    content: str
    truncated: bool = False


class MissingFile(ToolResultModel):
    path: str
    error: str


class ReadFilesResult(ToolResultModel):
    ref: str
    files: list[FileContent]
    missing: list[MissingFile]
    truncated: bool = False
    note: str | None = None


class ChangedFile(ToolResultModel):
    path: str
    status: str = Field(description="added, modified, removed or renamed")


class BranchDiffResult(ToolResultModel):
    branch: str
    base: str
    files: list[ChangedFile]
    diff: str = Field(description="The unified diff against the merge base")
    truncated: bool = False
    note: str | None = None


def list_files(context: ToolContext, args: ListFilesArgs) -> dict[str, Any]:
    tree = context.services.require("github", "repo_list_files").list_files(args.ref)
    entries = listing(tree["files"], args.path, args.depth)
    prefix = args.path.strip().strip("/")
    total = sum(1 for f in tree["files"] if not prefix or f["path"].startswith(prefix + "/"))
    result: dict[str, Any] = {"ref": tree["ref"], "sha": tree["sha"], "path": prefix, "depth": args.depth,
                              "entries": entries[:MAX_ENTRIES], "total_files": total}
    if len(entries) > MAX_ENTRIES:
        result |= {"truncated": True, "note": f"TRUNCATED: showing {MAX_ENTRIES} of {len(entries)} entries; list a "
                   "sub-folder (`path`) or a smaller `depth` to see the rest"}
    elif not entries and prefix:
        result["note"] = f"no files under {prefix!r} at {tree['ref']!r}"
    return result


def search_code(context: ToolContext, args: SearchCodeArgs) -> dict[str, Any]:
    github = context.services.require("github", "repo_search_code")
    found = github.search_code(args.pattern, args.path_glob, args.ref, max_matches=args.max_results)
    matches, cut_lines = [], 0
    for match in found["matches"]:
        text, cut = clip(match["text"], MAX_MATCH_CHARS)
        cut_lines += cut
        matches.append({**match, "text": text})
    notes = []
    if found.get("truncated"):
        notes.append(f"TRUNCATED: stopped at {len(matches)} matching lines; narrow the pattern or `path_glob`")
    if cut_lines:
        notes.append(f"{cut_lines} long lines were cut at {MAX_MATCH_CHARS} characters")
    if found.get("skipped"):
        notes.append(f"{len(found['skipped'])} files over 1 MB were not searched: {', '.join(found['skipped'][:10])}")
    return {"ref": found["ref"], "pattern": args.pattern, "path_glob": args.path_glob, "matches": matches,
            "truncated": bool(found.get("truncated") or cut_lines or found.get("skipped")),
            "note": "; ".join(notes) or None}


def read_files(context: ToolContext, args: ReadFilesArgs) -> dict[str, Any]:
    found = context.services.require("github", "repo_read_files").read_files(list(args.paths), args.ref)
    files, budget, cut_paths = [], MAX_READ_CHARS, []
    for item in found["files"]:
        content, cut = clip(item["content"], max(0, min(MAX_FILE_CHARS, budget)))
        budget -= min(len(item["content"]), MAX_FILE_CHARS)
        if cut:
            cut_paths.append(item["path"])
        files.append({"path": item["path"], "content": content, "truncated": cut})
    note = None
    if cut_paths:
        note = (f"TRUNCATED: {', '.join(cut_paths)} cut (at most {MAX_FILE_CHARS} characters a file, "
                f"{MAX_READ_CHARS} a call); read fewer files at once, or search for the part you need")
    return {"ref": found["ref"], "files": files, "missing": found["missing"], "truncated": bool(cut_paths),
            "note": note}


def branch_diff(context: ToolContext, args: BranchDiffArgs) -> dict[str, Any]:
    found = context.services.require("github", "repo_branch_diff").branch_diff(args.branch, args.base)
    diff, cut = clip(found["diff"], MAX_DIFF_CHARS)
    return {"branch": found["branch"], "base": found["base"], "files": found["files"], "diff": diff,
            "truncated": cut,
            "note": (f"TRUNCATED: the diff is {len(found['diff'])} characters; read the changed files with "
                     "repo_read_files for the rest") if cut else None}


TOOLS = [
    ToolSpec("repo_list_files", "List the repository's files as a tree: under a folder (`path`), `depth` levels "
             "deep, at a branch or commit.", "github", ListFilesArgs, list_files, result_model=ListFilesResult),
    ToolSpec("repo_search_code", "Search the repository's files for a regular expression (optionally only paths "
             "matching a glob); answers path, line number and line.", "github", SearchCodeArgs, search_code,
             result_model=SearchCodeResult),
    ToolSpec("repo_read_files", f"Read up to {MAX_FILES_PER_READ} text files at once at a branch or commit; a "
             "missing file is reported, not fatal.", "github", ReadFilesArgs, read_files,
             result_model=ReadFilesResult),
    ToolSpec("repo_branch_diff", "The unified diff of a branch against its base (the default branch), from their "
             "merge base, with the changed files.", "github", BranchDiffArgs, branch_diff,
             result_model=BranchDiffResult),
]
