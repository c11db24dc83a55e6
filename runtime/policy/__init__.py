"""The Cedar tool policy: who may call which tool with which arguments.

    policy = ToolPolicy.load(extra_dirs=[project / "policies"])
    decision = policy.authorize("code", "github_commit_files", {"branch": "main", ...},
                                invocation_id=..., allowed_tools=[...])
    decision.allowed, decision.reason

Policies are `.cedar` files: the defaults in `runtime/policies/`, plus any folder a project adds (no code needed).
Each policy may carry `@id("...")` and `@reason("...")` annotations; a denial names the forbidding policies by id and
gives their reasons, which is the error text the model reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
POLICY_DIRS_ENV = "AIDLC_POLICY_DIRS"  # os.pathsep-separated folders of a project's own .cedar files
_MAX_CONTEXT_STRING = 2_000  # policies compare identifiers, not file bodies; keeps requests small


class PolicyError(Exception):
    """A .cedar file does not parse; the message names the file."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    policy_ids: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())


@dataclass
class ToolPolicy:
    text: str
    sources: list[Path]
    annotations: dict[str, dict[str, str]]  # cedar's policyN -> {"id": ..., "reason": ...}

    @classmethod
    def load(cls, extra_dirs: Iterable[str | Path] | None = None, *, include_defaults: bool = True) -> "ToolPolicy":
        """The defaults plus `extra_dirs`; with extra_dirs None, the folders listed in `AIDLC_POLICY_DIRS`."""
        import cedarpy

        if extra_dirs is None:
            extra_dirs = [p for p in os.environ.get(POLICY_DIRS_ENV, "").split(os.pathsep) if p]

        folders = ([DEFAULT_POLICY_DIR] if include_defaults else []) + [Path(d) for d in extra_dirs]
        sources: list[Path] = []
        chunks: list[str] = []
        for folder in folders:
            if not folder.is_dir():
                raise PolicyError(f"policy folder {folder} does not exist")
            for path in sorted(folder.glob("*.cedar")):
                text = path.read_text(encoding="utf-8")
                try:  # parse each file alone first, so a syntax error names its file
                    cedarpy.policies_to_json_str(text)
                except Exception as exc:
                    raise PolicyError(f"{path}: {exc}") from exc
                sources.append(path)
                chunks.append(f"// --- {path}\n{text}\n")
        text = "\n".join(chunks)
        parsed = json.loads(cedarpy.policies_to_json_str(text)) if text.strip() else {"staticPolicies": {}}
        annotations = {pid: dict(p.get("annotations") or {}) for pid, p in parsed.get("staticPolicies", {}).items()}
        return cls(text=text, sources=sources, annotations=annotations)

    def authorize(
        self,
        agent_type: str,
        tool: str,
        args: Mapping[str, Any],
        *,
        invocation_id: str | None,
        allowed_tools: Sequence[str] | None,
        tool_group: str | None = None,
        default_branch: str = "main",
        approved: bool = False,
        management_account: str = "",
        changed_paths: Sequence[str] = (),
        protected_paths: Sequence[str] = (),
    ) -> Decision:
        """`changed_paths`: the repository files the call would change (the tool's `changed_paths`);
        `protected_paths`: the project's globs of files no agent may change (gitignore syntax). Cedar compares
        strings, not globs, so the match is made here: `context.protected_changes` holds the changed paths a
        protected glob matches, and the default policy refuses any call where it is not empty."""
        import cedarpy

        protected = sorted({"main", default_branch})
        changed = sorted({normal_path(p) for p in changed_paths})
        protected_changes = matching_paths(changed, protected_paths)
        entities = [
            {"uid": {"type": "Agent", "id": agent_type}, "attrs": {"tools": sorted(set(allowed_tools or ()))}, "parents": []},
            {"uid": {"type": "Tool", "id": tool}, "attrs": {"name": tool, "target": tool_group or ""}, "parents": []},
            {
                "uid": {"type": "Action", "id": tool},
                "attrs": {},
                "parents": [{"type": "Action", "id": f"group:{tool_group}"}] if tool_group else [],
            },
        ]
        request = {
            "principal": f'Agent::{json.dumps(agent_type)}',
            "action": f'Action::{json.dumps(tool)}',
            "resource": f'Tool::{json.dumps(tool)}',
            "context": {
                "tool": tool,
                "args": _cedar_value(dict(args)),
                "invocation_id": invocation_id or "",
                "default_branch": default_branch,
                "protected_branches": protected,
                "approved": bool(approved),
                "management_account": management_account,
                "changed_paths": [p[:_MAX_CONTEXT_STRING] for p in changed],
                "protected_changes": [p[:_MAX_CONTEXT_STRING] for p in protected_changes],
            },
        }
        result = cedarpy.is_authorized(request, self.text, entities)
        ids = tuple(self.annotations.get(pid, {}).get("id", pid) for pid in result.diagnostics.reasons)
        errors = tuple(str(e) for e in result.diagnostics.errors)
        if result.allowed:
            return Decision(True, f"allowed by {', '.join(ids)}", ids, errors)
        if ids:  # forbid policies matched
            reasons = "; ".join(
                f"{self.annotations.get(pid, {}).get('reason', 'forbidden')} (policy {name})"
                for pid, name in zip(result.diagnostics.reasons, ids)
            )
        elif tool not in (allowed_tools or ()):
            reasons = (
                f"agent {agent_type!r} may not call {tool!r}: its plugin declares only "
                f"{', '.join(sorted(allowed_tools or ())) or 'no tools'} (policy declared-tools-only)"
            )
        else:
            reasons = "no policy permits this call"
        if protected_changes and PROTECTED_PATHS_POLICY in ids:  # say which files, so the model can leave them
            reasons += f"; protected files in this call: {', '.join(protected_changes)}"
        if errors:
            reasons += f" [policy evaluation errors: {'; '.join(errors)}]"
        return Decision(False, f"denied by tool policy: {reasons}", ids, errors)


PROTECTED_PATHS_POLICY = "no-protected-path-changes"  # its id in defaults.cedar


def normal_path(path: str) -> str:
    """A repository path as the globs see it: "./infra//a.tf" and "/infra/a.tf" are "infra/a.tf" (so a spelling
    does not slip past a glob); a path climbing out of the repository stays as it is, refused by its tool."""
    import posixpath

    cleaned = posixpath.normpath(path).lstrip("/")
    return cleaned if cleaned not in ("", ".") else path


def matching_paths(paths: Iterable[str], globs: Sequence[str]) -> list[str]:
    """The paths any of `globs` matches, in .gitignore syntax (pathspec): "infra/**", "*.lock", "/Makefile",
    "!infra/README.md" (an exception), blank lines and "#" comments ignored."""
    if not globs:
        return []
    import pathspec

    spec = pathspec.PathSpec.from_lines("gitignore", globs)
    return [p for p in paths if spec.match_file(p)]


def _cedar_value(value: Any) -> Any:
    """JSON -> what Cedar accepts: no nulls (dropped), no floats (as strings), long strings cut."""
    if isinstance(value, Mapping):
        return {str(k): _cedar_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, set)):
        return [_cedar_value(v) for v in value if v is not None]
    if isinstance(value, bool) or isinstance(value, int) and abs(value) < 2**63:
        return value
    if isinstance(value, str):
        return value[:_MAX_CONTEXT_STRING]
    return str(value)[:_MAX_CONTEXT_STRING]


__all__ = ["DEFAULT_POLICY_DIR", "POLICY_DIRS_ENV", "Decision", "PolicyError", "ToolPolicy"]
