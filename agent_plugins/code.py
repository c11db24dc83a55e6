"""The code agent: a story becomes a GitHub pull request with an implementation draft and tests."""

import json
import re

from runtime.plugins import (OFFLINE_LABEL, AgentSpec, Limits, MemoryStrategy, RunMemory, ToolCall, criteria, hookimpl,
                             parent_context, slug)

MEMORY_STRATEGIES = [
    MemoryStrategy(name="conventions", type="SEMANTIC",
                   description="The repository's conventions: layout, naming, test style, frameworks."),
    MemoryStrategy(name="review_feedback", type="USER_PREFERENCE",
                   description="Past review feedback on this agent's pull requests, to follow next time."),
]
DEFAULT_SOURCE_DIR = "features"
# What the offline script understands of a remembered convention (it reads no prose): "source files under `src/`".
_SOURCE_DIR = re.compile(r"\b(?:source|code|module)s?(?: files?)? (?:go |belong )?(?:under|in|into) `?([a-z][a-z0-9_]*)/",
                         re.IGNORECASE)


def source_dir(memory: RunMemory | None) -> str:
    """Where the source files go: the latest remembered convention or review feedback naming a folder, else
    `features/`."""
    if memory is not None:
        for text in [*memory.records("review_feedback"), *memory.records("conventions")]:
            match = _SOURCE_DIR.search(text)
            if match:
                return match.group(1)
    return DEFAULT_SOURCE_DIR

# --- offline: an implementation draft and its tests, rendered from the story ---------------------------------


def code_files(request, package: str = DEFAULT_SOURCE_DIR) -> dict[str, str]:
    name = slug(request.story.title, 30).replace("-", "_")
    items = criteria(request)
    checks = "\n".join(f"    {json.dumps(item)}," for item in items)
    module = f'''"""{request.story.title}

Implementation draft generated from Notion story {request.notion_page_id}.
{OFFLINE_LABEL}
"""

ACCEPTANCE_CRITERIA = [
{checks}
]


def criteria_status(done: set[int]) -> list[dict]:
    """Which acceptance criteria are met, given the indexes already done."""
    return [{{"criterion": text, "met": index in done}} for index, text in enumerate(ACCEPTANCE_CRITERIA)]
'''
    test = f'''from {package}.{name} import ACCEPTANCE_CRITERIA, criteria_status


def test_every_criterion_is_listed():
    assert len(ACCEPTANCE_CRITERIA) == {len(items)}


def test_status_marks_done_criteria():
    status = criteria_status({{0}})
    assert status[0]["met"] is True
    assert all(not row["met"] for row in status[1:])
'''
    return {f"{package}/{name}.py": module, f"tests/test_{name}.py": test, f"{package}/__init__.py": ""}


TEST_COMMAND = "python -m pytest -q"
OUTPUT_LINES = 15  # the last lines of each command's output the PR body quotes


def test_results(runs: list, sandbox: str = "") -> list[str]:
    """The PR body's "Tests run" section: each command the agent ran in the sandbox, its result, its last lines."""
    if not runs:
        return ["### Tests run in the sandbox", "", "None: the agent did not run the tests."]
    where = f" ({sandbox})" if sandbox else ""
    lines = ["### Tests run in the sandbox" + where, ""]
    for run in runs:
        verdict = "PASSED" if run["passed"] else "FAILED"
        detail = f"exit {run['exit_code']}" if run["exit_code"] is not None else "did not finish"
        if run.get("stopped"):
            detail += f"; {run['stopped']}"
        lines.append(f"- `{run['command']}`: **{verdict}** ({detail}, {run['duration_s']:.1f} s)")
        output = (run["stdout"] + run["stderr"]).strip().splitlines()[-OUTPUT_LINES:]
        if output:
            lines += ["", "  ```", *[f"  {line}" for line in output], "  ```"]
    return lines


def pr_body(request, files: dict, runs: list = (), sandbox: str = "") -> str:
    return "\n".join(
        [
            f"Implements Notion story **{request.story.title}** (page `{request.notion_page_id}`).",
            "",
            "### Acceptance criteria",
            *[f"- [ ] {item}" for item in criteria(request)],
            "",
            "### Files",
            *[f"- `{path}`" for path in files],
            "",
            *test_results(list(runs), sandbox),
            "",
            f"_{OFFLINE_LABEL}_",
        ]
    )


def feedback_notes(request, feedback: dict) -> str:
    """What the offline follow-up commits: the feedback, recorded beside the code (a model would change the code)."""
    where = f" on `{feedback['path']}`" + (f" line {feedback['line']}" if feedback.get("line") else "") \
        if feedback.get("path") else ""
    return "\n".join([
        f"# Feedback on '{request.story.title}'", "",
        f"From {feedback.get('author') or 'a reviewer'} ({feedback['source']}, "
        f"comment {feedback['comment_id']}){where}:",
        "", *[f"> {line}" for line in feedback["text"].splitlines()], "",
        f"_{OFFLINE_LABEL} It records the feedback; a model would change the code to address it._", ""])


def follow_up(request, feedback: dict, memory=None):
    """A re-run with feedback on a pull request: commit to ITS branch (never a new PR), run the tests, reply."""
    pr = feedback["pull_request"]
    branch = pr["branch"]
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})  # the story as it is now
    yield ToolCall("github_read_pull_request", {"number": pr["number"]})
    yield ToolCall("repo_branch_diff", {"branch": branch})
    name = slug(request.story.title, 30).replace("-", "_")
    notes = f"{source_dir(memory)}/{name}_feedback_{slug(str(feedback['comment_id']), 40)}.md"
    first_line = (feedback["text"].strip().splitlines() or ["feedback"])[0][:60]
    commit = yield ToolCall("github_commit_files", {
        "branch": branch, "message": f"Address feedback: {first_line}",
        "files": {notes: feedback_notes(request, feedback)}})
    suite = yield ToolCall("sandbox_run", {"branch": branch, "commands": [TEST_COMMAND]})
    verdict = "the tests pass" if suite["passed"] else "the tests FAIL"
    reply = {"number": pr["number"], "body": "\n".join([
        f"Addressed in {commit['sha'][:7]} on `{branch}`:", "", f"> {first_line}", "",
        *test_results(list(suite["runs"]), suite["sandbox"]), "", f"_{OFFLINE_LABEL}_"])}
    if feedback["source"] == "github_review_comment" and str(feedback["comment_id"]).isdigit():
        reply["in_reply_to"] = int(feedback["comment_id"])  # in the review comment's own thread on the diff
    yield ToolCall("github_comment_pull_request", reply)
    return (f"Pushed follow-up commit {commit['sha'][:7]} to pull request #{pr['number']} ({pr.get('url') or branch}) "
            f"for the feedback; {verdict}.")


def offline(request, memory=None):
    feedback = parent_context(request).get("feedback")
    if feedback and feedback.get("pull_request"):
        return (yield from follow_up(request, feedback, memory))
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    # explore before writing: the layout, and where the existing tests are
    yield ToolCall("repo_list_files", {"depth": 2})
    yield ToolCall("repo_search_code", {"pattern": r"^\s*def test_", "path_glob": "*.py", "max_results": 20})
    branch = f"aidlc/{slug(request.story.title)}-{request.invocation_id[-6:].lower()}"
    yield ToolCall("github_create_branch", {"branch": branch})
    files = code_files(request, source_dir(memory))
    yield ToolCall(
        "github_commit_files",
        {"branch": branch, "message": f"Implement: {request.story.title}", "files": files},
    )
    # run the project's tests on the branch before opening the PR
    suite = yield ToolCall("sandbox_run", {"branch": branch, "commands": [TEST_COMMAND]})
    runs = list(suite["runs"])
    if not suite["passed"]:
        # iterate: run the agent's own tests alone, to tell its failures from ones the branch already had (a
        # model would read the output, fix, commit and run again; the offline script cannot write new code)
        own = [path for path in files if path.startswith("tests/")]
        again = yield ToolCall("sandbox_run", {"branch": branch, "commands": [f"{TEST_COMMAND} {' '.join(own)}"]})
        runs += again["runs"]
    pr = yield ToolCall(
        "github_create_pull_request",
        {"branch": branch, "title": request.story.title, "body": pr_body(request, files, runs, suite["sandbox"]),
         "draft": not suite["passed"]},
    )
    verdict = "the tests pass" if suite["passed"] else "the tests FAIL (opened as a draft)"
    return (f"Opened pull request #{pr['number']} ({pr['url']}) with {len(files)} files for "
            f"'{request.story.title}'; {verdict}.")


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="code",
            description="Generates an implementation draft with tests and opens a GitHub pull request.",
            triggers=["Generate Code"],
            tools=[
                "kb_retrieve", "notion_read_page",
                "notion_search",
                "github_read_file",
                "repo_list_files",
                "repo_search_code",
                "repo_read_files",
                "repo_branch_diff",
                "github_create_branch",
                "github_commit_files",
                "sandbox_run",
                "github_create_pull_request",
                # feedback on its pull request (runtime/pipeline/feedback.py): read it, answer on it
                "github_read_pull_request",
                "github_comment_pull_request",
            ],
            outputs=["pull_request"],
            completion_status="Code Generated",
            limits=Limits(max_tokens=400_000, timeout_seconds=2 * 3600, memory_mb=4096, uses_memory=True),
            memory_strategies=MEMORY_STRATEGIES,
            offline=offline,
        )
    ]
