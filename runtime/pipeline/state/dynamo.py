"""Plain-Python <-> DynamoDB attribute values, and the small expression builders the repositories share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _clean(value: Any) -> Any:
    """DynamoDB takes no floats and no empty strings in keys; JSON-mode dumps give us strings for Decimals."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_item(data: dict[str, Any]) -> dict[str, dict]:
    return {k: _serializer.serialize(_clean(v)) for k, v in data.items() if v is not None}


def to_value(value: Any) -> dict:
    return _serializer.serialize(_clean(value))


def from_item(item: dict[str, dict]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


class Expr:
    """Collects `#name`/`:value` placeholders so SET clauses never collide with reserved words."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def name(self, attribute: str) -> str:
        key = f"#n{len(self.names)}"
        self.names[key] = attribute
        return key

    def value(self, value: Any) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = to_value(value)
        return key

    def set_clause(self, fields: dict[str, Any]) -> tuple[list[str], list[str]]:
        """`SET` parts for non-None fields and `REMOVE` parts for None ones."""
        sets, removes = [], []
        for attribute, value in fields.items():
            if value is None:
                removes.append(self.name(attribute))
            else:
                sets.append(f"{self.name(attribute)} = {self.value(value)}")
        return sets, removes

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


def update_expression(sets: list[str], removes: list[str] = (), adds: list[str] = ()) -> str:
    parts = []
    if sets:
        parts.append("SET " + ", ".join(sets))
    if adds:
        parts.append("ADD " + ", ".join(adds))
    if removes:
        parts.append("REMOVE " + ", ".join(removes))
    return " ".join(parts)


class TransactionCancelled(Exception):
    """A transaction's condition failed; `reasons` has one code per item ("None" for the ones that passed)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class TransactionConflict(Exception):
    """Another transaction touched the same item at the same moment; the whole transaction can simply be retried."""


def transact(client: Any, items: list[dict], *, attempts: int = 10) -> None:
    """TransactWriteItems, with a conditional failure turned into `TransactionCancelled` naming which item failed.

    Concurrent transactions on one item (every run's budget settles on the project's month item) are cancelled
    with `TransactionConflict`, which botocore does not retry; we do, with jittered backoff, since nothing was
    written and the conditions are re-checked on each try."""
    from tenacity import retry_if_exception_type, stop_after_attempt, wait_random_exponential, Retrying

    for attempt in Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.01, max=0.5),
        retry=retry_if_exception_type(TransactionConflict),
        reraise=True,
    ):
        with attempt:
            _transact_once(client, items)


def _transact_once(client: Any, items: list[dict]) -> None:
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        if not reasons:  # some backends only say it in the message: "[ConditionalCheckFailed, None]"
            import re

            found = re.search(r"\[(.*)\]", str(exc))
            reasons = [r.strip() for r in found.group(1).split(",")] if found else []
        if "ConditionalCheckFailed" not in reasons and "TransactionConflict" in reasons:
            raise TransactionConflict(str(reasons)) from None
        raise TransactionCancelled(reasons) from None
