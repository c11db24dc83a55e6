"""Error codes (the seed design, section 7.2) and the one error shape every API returns.

`AidlcError` is what domain code raises; handlers map it to `ErrorResponse` and an HTTP status.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class ErrorCode(StrEnum):
    INVALID_WEBHOOK = "INVALID_WEBHOOK"
    UNKNOWN_TRIGGER = "UNKNOWN_TRIGGER"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    AGENT_TIMEOUT = "AGENT_TIMEOUT"
    AGENT_ERROR = "AGENT_ERROR"
    TOOL_AUTH_FAILED = "TOOL_AUTH_FAILED"
    TOOL_RATE_LIMITED = "TOOL_RATE_LIMITED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    CHAIN_FAILED = "CHAIN_FAILED"
    # Not in the seed's table, but every API needs them: a request that fails validation,
    # an id that names nothing, a body over the size limit.
    INVALID_REQUEST = "INVALID_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    CANCELLED = "CANCELLED"


# What a person should do about each code. Handlers may pass a more specific remediation.
DEFAULT_REMEDIATION: dict[ErrorCode, str] = {
    ErrorCode.INVALID_WEBHOOK: "Check that the webhook's verification token (or automation secret) matches the one "
    "stored for this deployment; re-create the Notion webhook subscription if it was rotated.",
    ErrorCode.UNKNOWN_TRIGGER: "Use a Status value listed by `aidlc plugins`, or add it to the project's trigger_map.",
    ErrorCode.BUDGET_EXCEEDED: "Increase cost_limit_per_month (or cost_limit_per_invocation) in the project settings, "
    "or wait until the next billing month.",
    ErrorCode.AGENT_TIMEOUT: "Split the story into smaller ones, or raise the agent's timeout in its plugin limits.",
    ErrorCode.AGENT_ERROR: "Look at the invocation's error_detail and the agent runtime logs; move the story back to "
    "the trigger status to retry.",
    ErrorCode.TOOL_AUTH_FAILED: "Rotate the Notion or GitHub credential in Secrets Manager and check the integration "
    "has access to the page or repository.",
    ErrorCode.TOOL_RATE_LIMITED: "Wait a minute and retry; the external API's rate limit was hit.",
    ErrorCode.DELIVERY_FAILED: "The result is saved in the invocation record; check the Notion integration's access "
    "to the story and the execution dashboard.",
    ErrorCode.CHAIN_FAILED: "Start the next agent by hand by moving the story to its trigger status.",
    ErrorCode.INVALID_REQUEST: "Fix the request body as the message says and send it again.",
    ErrorCode.NOT_FOUND: "Check the id; list invocations with GET /project/{id}/invocations.",
    ErrorCode.FORBIDDEN: "Call with the identity of a project you may use, or ask the deployment's operator to add "
    "the project to your entry in AIDLC_API_ACCESS.",
    ErrorCode.PAYLOAD_TOO_LARGE: "Send a smaller body (the limit is 256 KiB).",
    ErrorCode.CANCELLED: "Move the story back to its trigger status to run the agent again.",
}


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    invocation_id: str | None = None
    remediation: str


class ErrorResponse(BaseModel):
    """`{"error": {"code", "message", "invocation_id", "remediation"}}` (seed section 7.1)."""

    error: ErrorBody

    @classmethod
    def of(
        cls,
        code: ErrorCode,
        message: str,
        invocation_id: str | None = None,
        remediation: str | None = None,
    ) -> "ErrorResponse":
        return cls(
            error=ErrorBody(
                code=code,
                message=message,
                invocation_id=invocation_id,
                remediation=remediation or DEFAULT_REMEDIATION[code],
            )
        )


class AidlcError(Exception):
    """A failure with an error code, raised by domain code and mapped to `ErrorResponse` at the edge."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        invocation_id: str | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.invocation_id = invocation_id
        self.remediation = remediation  # None: the code's default (ErrorResponse.of)

    def to_response(self) -> ErrorResponse:
        return ErrorResponse.of(self.code, self.message, self.invocation_id, self.remediation)
