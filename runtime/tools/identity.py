"""Who calls a tool is proven, not claimed: signed, expiring tool tokens bound to one agent and one invocation.

Why: the Cedar policy's principal is the calling agent. Taken from headers the caller sets (`X-Aidlc-Agent`,
`X-Aidlc-Invocation-Id`), any caller could be any agent (a call with no headers skipped the policy altogether; one
claiming another agent's name and invocation overwrote that invocation's prototype; in AWS any runtime's role could
claim any agent). So:

- A tool token is a JWT (PyJWT, HS256) whose claims are the agent (`sub`), the invocation (`inv`), the audience
  `aidlc-tools` and an expiry (`exp`). Whoever holds the signing key issues them; the agent runtimes never hold it.
- Locally the MCP endpoint owns the key (one random key per stack, `ToolTokens.generate()`) and issues each agent
  app a token for its own agent name and each invocation it runs (runtime/local/stack.py). In AWS the key is the
  `tool-token-key` secret (runtime/resources.py): the orchestrator, which starts every run, signs the run's token
  into the `AgentRequest` (`tool_token`); the gateway's Lambda target verifies it; no agent runtime's role may read
  the key, so a runtime can present only the tokens it was handed, for its own agent and invocations.
- The agent sends the token in `X-Aidlc-Tool-Token` (allow-listed for propagation by the gateway target, beside the
  identity headers, which remain for logs). A call is served as the token's agent and invocation. Refused, each as
  a `denied` audit record of the one audit trail (runtime/tools/audit.py): no token (default deny: never "no
  identity, no policy"), a token that does not verify (tampered, another key, wrong audience), an expired one, and
  a call whose identity headers claim another agent or invocation than its token.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from runtime.resources import Header

if TYPE_CHECKING:
    from runtime.tools.base import ToolResult, ToolServices
    from runtime.tools.registry import ToolRegistry

AUDIENCE = "aidlc-tools"
ALGORITHM = "HS256"
# A run may last hours (the orchestrator's timeout sweeper ends it well before this); a token outliving its run is
# still bound to that one invocation.
DEFAULT_TTL_SECONDS = 12 * 3600


class IdentityRefused(Exception):
    """The call's identity is not proven; the message says why (it is the refused call's error text)."""


@dataclass(frozen=True)
class Caller:
    agent_type: str
    invocation_id: str
    protected_paths: tuple[str, ...] = ()  # the run's project's protected path globs, signed with the rest


class ToolTokens:
    """Issues and verifies tool tokens with one HMAC key."""

    def __init__(self, key: bytes | str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._key = key.encode("utf-8") if isinstance(key, str) else key
        if len(self._key) < 32:
            raise ValueError("a tool-token key needs at least 32 bytes")
        self.ttl_seconds = ttl_seconds

    @classmethod
    def generate(cls, **kwargs: Any) -> "ToolTokens":
        """A fresh random key: one local stack's, or one test's."""
        return cls(secrets.token_bytes(32), **kwargs)

    @classmethod
    def from_secret(cls, secret_id: str, *, client: Any = None, **kwargs: Any) -> "ToolTokens":
        """The key kept in Secrets Manager (`tool-token-key`), read once."""
        if client is None:
            from runtime.aws_clients import default_clients

            client = default_clients().client("secretsmanager")
        return cls(client.get_secret_value(SecretId=secret_id)["SecretString"], **kwargs)

    def issue(self, agent_type: str, invocation_id: str, *, issued_at: float | None = None,
              protected_paths: Sequence[str] = ()) -> str:
        """`protected_paths`: the run's project's globs of files no agent may change; in the signed claims (`pp`),
        so the tool side enforces them without a look-up and no agent can drop them."""
        now = int(time.time() if issued_at is None else issued_at)
        claims: dict[str, Any] = {"sub": agent_type, "inv": invocation_id, "aud": AUDIENCE, "iat": now,
                                  "exp": now + self.ttl_seconds}
        if protected_paths:
            claims["pp"] = list(protected_paths)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                options={"require": ["sub", "inv", "aud", "exp"]})
        except jwt.ExpiredSignatureError:
            raise IdentityRefused("the tool token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise IdentityRefused(f"the tool token does not verify ({exc})") from None
        paths = claims.get("pp") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise IdentityRefused("the tool token's protected paths are not a list of globs")
        return Caller(agent_type=str(claims["sub"]), invocation_id=str(claims["inv"]), protected_paths=tuple(paths))

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The proven caller of a request with these headers (names compared lower-cased)."""
        lowered = {str(k).lower(): v for k, v in headers.items() if v}
        token = lowered.get(Header.TOOL_TOKEN.lower())
        if not token:
            raise IdentityRefused(f"the call carries no tool token ({Header.TOOL_TOKEN}): calls without a proven "
                                  "identity are refused")
        caller = self.verify(token)
        claimed_agent = lowered.get(Header.AGENT.lower())
        if claimed_agent and claimed_agent != caller.agent_type:
            raise IdentityRefused(f"{Header.AGENT} says {claimed_agent!r}, the tool token is {caller.agent_type!r}'s")
        claimed_invocation = lowered.get(Header.INVOCATION_ID.lower())
        if claimed_invocation and claimed_invocation != caller.invocation_id:
            raise IdentityRefused(f"{Header.INVOCATION_ID} says {claimed_invocation!r}, the tool token is for "
                                  f"invocation {caller.invocation_id!r}")
        return caller


def call_as_caller(tools: "ToolRegistry", tokens: ToolTokens, name: str, args: Any, headers: Mapping[str, str],
                   services: "ToolServices") -> "ToolResult":
    """Serve one tool call as its proven caller, or refuse it (audited as denied) when the caller is not proven.

    Both tool surfaces (the local MCP server and the gateway's Lambda target) call tools only through here."""
    from runtime.tools.base import ToolContext

    try:
        caller = tokens.authenticate(headers)
    except IdentityRefused as exc:
        lowered = {str(k).lower(): v for k, v in headers.items() if v}
        # the claimed identity is recorded as claimed: it names whom the refused call pretended to be
        context = ToolContext(agent_type=lowered.get(Header.AGENT.lower()),
                              invocation_id=lowered.get(Header.INVOCATION_ID.lower()), services=services)
        return tools.refuse(name, args, context, f"refused: {exc}")
    return tools.call(name, args, ToolContext(agent_type=caller.agent_type, invocation_id=caller.invocation_id,
                                              services=services, protected_paths=caller.protected_paths))
