"""Make moto's DynamoDB apply each request atomically, as DynamoDB does.

moto 5's `DynamoDBBackend.transact_write_items` deep-copies every table a transaction touches before it starts and,
when the transaction is cancelled (a condition failed: a reservation refused by the concurrency cap or the budget),
puts those copies back. Any write another thread committed to those tables in between is erased: a month-to-date
cost added, a slot released, an invocation recorded. A transaction's reads and writes are not isolated from other
requests either (TransactGetItems can see half a transaction). DynamoDB itself never does either.

moto serves every DynamoDB request through `DynamoHandler.call_action` (its server and its in-process mock alike),
so one lock around that method makes each request, transaction or single-item write, happen all at once. The
cost is that the local DynamoDB handles one request at a time, which moto (pure Python, under the GIL) nearly
does anyway.
"""

from __future__ import annotations

import functools
import threading

_LOCK = threading.RLock()  # reentrant: moto's transaction calls its own put/update/delete inside


def make_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB requests in this process (idempotent; call before serving requests)."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "aidlc_serialised", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def serialised(self):  # type: ignore[no-untyped-def]
        with _LOCK:
            return original(self)

    serialised.aidlc_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = serialised  # type: ignore[method-assign]
