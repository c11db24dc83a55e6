"""Bad input is refused at the door: what every pipeline entry point does with a body before it touches anything.

`load_json` parses a body within bounds (nesting depth checked before `json.loads` recurses, integers of at most
`MAX_INT_DIGITS` digits, floats in DynamoDB's range, no NaN/Infinity, no lone surrogates, which boto3 and Notion can't encode later), and the
models below give each delivery the shape the pipeline reads from it, with bounded sizes. Anything else raises
`InputRejected`, which the entry point answers with its status and a message saying what to fix.

`json.loads` alone fails in ways that ended in 500s: RecursionError on deeply nested arrays, ValueError on an
integer of more than 4,300 digits (Python's int-string limit), a str with a lone surrogate that only fails when it
is encoded for DynamoDB or Notion.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from runtime.errors import ErrorCode

MAX_DEPTH = 32  # Notion's pages nest a few levels; nothing we accept needs more
MAX_INT_DIGITS = 24
MAX_STRING = 10_000  # per string inside a delivery (a Notion text item is at most 2,000 characters)
MAX_ITEMS = 500  # per array or object inside a delivery (Notion: 100 per rich-text array, 100 people)

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InputRejected(Exception):
    """A body the entry point refuses: `status` 400 (not JSON we accept), 413 (too big), 422 (JSON of the wrong
    shape or types)."""

    def __init__(self, status: int, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or (ErrorCode.PAYLOAD_TOO_LARGE if status == 413 else ErrorCode.INVALID_REQUEST)


def nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped (a linear scan, no recursion)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InputRejected(400, f"an integer has {len(text)} digits; at most {MAX_INT_DIGITS} are accepted")
    return int(text)


def _bounded_float(text: str) -> float:
    # DynamoDB stores numbers from 1e-130 to under 1e126 (and our records keep what was sent); float() alone
    # also turns 1e999 into inf.
    value = float(text)
    if not math.isfinite(value) or abs(value) >= 1e125 or 0 < abs(value) < 1e-129:
        raise InputRejected(400, f"the number {text[:40]} is out of range; send values between 1e-129 and 1e125")
    return value


def _no_constants(name: str) -> Any:
    raise InputRejected(400, f"{name} is not valid JSON; send numbers as finite values")


def _check_strings(value: Any, path: str = "body") -> None:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise InputRejected(400, f"{path} holds a lone UTF-16 surrogate; send valid Unicode text")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key:
                # No Notion object has one, and DynamoDB (moto at least) can't give a map with an empty key back.
                raise InputRejected(422, f"{path} has an empty key; name every field")
            _check_strings(key, path)
            _check_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


def load_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A JSON object from `body`, or `InputRejected` (400) saying what is wrong with it."""
    depth = nesting_depth(body)
    if depth > max_depth:
        raise InputRejected(400, f"the JSON nests {depth} levels deep; at most {max_depth} are accepted")
    try:
        payload = json.loads(body, parse_int=_bounded_int, parse_float=_bounded_float,
                             parse_constant=_no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputRejected(400, f"body is not valid JSON (UTF-8): {getattr(exc, 'msg', None) or exc}") from None
    except RecursionError:  # belt and braces: the depth check above should make this unreachable
        raise InputRejected(400, "the JSON nests too deeply") from None
    if not isinstance(payload, dict):
        raise InputRejected(422, f"body must be a JSON object, not {type(payload).__name__}")
    _check_strings(payload)
    return payload


def validated(model: type[BaseModel], payload: dict[str, Any], what: str) -> Any:
    """`model` from `payload`, or `InputRejected` (422) naming each bad field by its path."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InputRejected(422, f"{what} has invalid fields: {problems}") from None


# --- the shapes --------------------------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(max_length=MAX_STRING)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
# A Notion id: 32 hex digits, with or without the dashes of a UUID.
NotionId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")]


class OpenModel(BaseModel):
    """A delivery as Notion or GitHub sends it: they add fields over time, so unknown ones are kept; known ones
    must have the right type."""

    model_config = ConfigDict(extra="allow")


class _Ref(OpenModel):
    id: ShortText


class _Named(OpenModel):
    name: Text | None = None


class _TextContent(OpenModel):
    content: Text = ""


class _RichText(OpenModel):
    type: ShortText | None = None
    plain_text: Text = ""
    text: _TextContent | None = None

    @model_validator(mode="after")
    def _has_its_text(self) -> "_RichText":
        # Without plain_text, a "text" item's words are read from text.content.
        if self.type == "text" and "plain_text" not in self.model_fields_set and self.text is None:
            raise ValueError("a rich-text item of type 'text' needs plain_text or text.content")
        return self


class _Date(OpenModel):
    start: ShortText | None = None


class _FileRef(OpenModel):
    url: Text | None = None


class _File(OpenModel):
    external: _FileRef | None = None
    file: _FileRef | None = None


class PageProperty(OpenModel):
    """One property value as Notion sends it; each field the pipeline reads is typed."""

    type: ShortText
    title: list[_RichText] | None = Field(default=None, max_length=MAX_ITEMS)
    rich_text: list[_RichText] | None = Field(default=None, max_length=MAX_ITEMS)
    status: _Named | None = None
    select: _Named | None = None
    multi_select: list[_Named] | None = Field(default=None, max_length=MAX_ITEMS)
    people: list[_Ref] | None = Field(default=None, max_length=MAX_ITEMS)
    relation: list[_Ref] | None = Field(default=None, max_length=MAX_ITEMS)
    date: _Date | None = None
    files: list[_File] | None = Field(default=None, max_length=MAX_ITEMS)
    created_by: _Ref | None = None
    last_edited_by: _Ref | None = None
    number: StrictInt | float | None = None
    checkbox: StrictBool | None = None
    url: Text | None = None
    email: Text | None = None
    phone_number: Text | None = None
    formula: dict[ShortText, Any] | None = None
    rollup: dict[ShortText, Any] | None = None
    unique_id: dict[ShortText, Any] | None = None


class _Parent(OpenModel):
    type: ShortText | None = None
    id: ShortText | None = None
    data_source_id: ShortText | None = None
    database_id: ShortText | None = None
    page_id: ShortText | None = None


class PageObject(OpenModel):
    """A page as an automation's "Send webhook" action puts it in `data`."""

    object: Literal["page"]
    id: NotionId
    url: Text | None = None
    parent: _Parent | None = None
    properties: dict[ShortText, PageProperty] = Field(default_factory=dict, max_length=MAX_ITEMS)
    last_edited_time: ShortText | None = None
    last_edited_by: _Ref | None = None


class _AutomationSource(OpenModel):
    type: Literal["automation"]
    automation_id: ShortText | None = None
    action_id: ShortText | None = None
    event_id: ShortText | None = None
    attempt: StrictInt | None = None


class AutomationEvent(OpenModel):
    """`{"source": {"type": "automation", ...}, "data": <the page>}`."""

    source: _AutomationSource
    data: PageObject


class _Author(OpenModel):
    id: ShortText
    type: ShortText | None = None


class _Entity(OpenModel):
    id: ShortText
    type: ShortText


class _EventData(OpenModel):
    parent: _Parent | None = None
    updated_properties: list[ShortText] | None = Field(default=None, max_length=MAX_ITEMS)


class IntegrationEvent(OpenModel):
    """An integration webhook event: only the fields the webhook reads are checked (and what they must be)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: ShortText
    entity: _Entity | None = None
    authors: list[_Author] = Field(default_factory=list, max_length=100)
    data: _EventData | None = None

    def page_id(self) -> str | None:
        """The page this event is about, when it is about a page with an id Notion could have issued."""
        if self.entity is None or self.entity.type != "page":
            return None
        try:
            NotionIdCheck.model_validate({"id": self.entity.id})
        except ValidationError:
            return None
        return self.entity.id


class NotionIdCheck(BaseModel):
    id: NotionId


class VerificationRequest(BaseModel):
    """Notion's one-time `{"verification_token": "..."}` POST when a subscription is created."""

    model_config = ConfigDict(extra="forbid")
    verification_token: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
