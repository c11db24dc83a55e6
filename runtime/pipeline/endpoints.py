"""Versioned agent endpoints (seed 5.3): which endpoint, and so which agent version, runs an invocation.

Each agent runtime has `dev`, `staging` and `prod` endpoints (and `beta` when the stack configuration gives one a
version), each pointing at a runtime version set in `aidlc:agentVersions` (components/agentcore.py). The deployed
map `{agent: {endpoint: version}}` reaches the orchestrator in one env var (`Env.AGENT_ENDPOINTS`). A project picks
its endpoint (`ProjectConfig.agent_endpoint`, default prod); a `beta` endpoint takes `ProjectConfig.beta_share` of
that project's invocations, chosen from the invocation id alone, so a redelivered message goes to the same endpoint.
Pure functions: no AWS here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field, TypeAdapter, ValidationError

STABLE_ENDPOINTS: tuple[str, ...] = ("dev", "staging", "prod")
BETA = "beta"
ENDPOINTS: tuple[str, ...] = (*STABLE_ENDPOINTS, BETA)
DEFAULT_ENDPOINT = "prod"

EndpointName = Literal["dev", "staging", "prod"]
AnyEndpointName = Literal["dev", "staging", "prod", "beta"]
# AgentCore numbers a runtime's versions 1, 2, 3...
AgentVersion = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,5}$")]
EndpointVersions = dict[str, dict[AnyEndpointName, AgentVersion]]

_MAP = TypeAdapter(EndpointVersions)


class EndpointChoice(NamedTuple):
    endpoint: str
    version: str | None  # None: no map deployed (the local stack runs one version)


def beta_fraction(invocation_id: str) -> float:
    """A number in [0, 1) fixed by the invocation id (the first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(invocation_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_endpoint(endpoints: Mapping[str, Mapping[str, str]], agent: str, invocation_id: str, *,
                    endpoint: str = DEFAULT_ENDPOINT, beta_share: float = 0.0) -> EndpointChoice:
    """The project's endpoint, or `beta` for `beta_share` of its invocations when this agent has a beta version."""
    versions = endpoints.get(agent) or {}
    if BETA in versions and beta_share > 0 and beta_fraction(invocation_id) < beta_share:
        return EndpointChoice(BETA, versions[BETA])
    return EndpointChoice(endpoint, versions.get(endpoint))


def parse_endpoint_map(raw: Any, source: str) -> dict[str, dict[str, str]]:
    """`{agent: {endpoint: version}}` from JSON (or already parsed); a bad value raises ValueError naming `source`
    and the entry."""
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        return {agent: dict(versions) for agent, versions in _MAP.validate_python(value).items()}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']} (got {e.get('input')!r})"
                             for e in exc.errors())
        raise ValueError(f"{source}: {problems}") from None


def version_key(agent: str, endpoint: str, version: str | None) -> str:
    """How the cost ledger names one agent version: `code@prod:3` (`code@prod` when no version is known)."""
    return f"{agent}@{endpoint}" + (f":{version}" if version else "")
