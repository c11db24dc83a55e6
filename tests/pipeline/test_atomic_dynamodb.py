"""moto's cancelled transaction puts back a copy of the table taken before it started, erasing a write another
request committed meanwhile; `make_dynamodb_atomic` (used by the local stack and these tests) prevents it.

The interleaving is forced, not hoped for: the transaction is held right after moto copied the table."""

from __future__ import annotations

import threading
import types

import boto3
import pytest
from moto import mock_aws

TABLE = "ledger"


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        client.put_item(TableName=TABLE, Item={"pk": {"S": "month"}, "cost": {"N": "0"}})
        client.put_item(TableName=TABLE, Item={"pk": {"S": "slots"}, "running": {"N": "3"}})
        yield client


def add_cost(client) -> None:
    client.update_item(TableName=TABLE, Key={"pk": {"S": "month"}}, UpdateExpression="ADD cost :c",
                       ExpressionAttributeValues={":c": {"N": "1"}})


def refused_reservation(client) -> None:
    """A transaction whose slot condition fails (the cap is reached), as the orchestrator's reservation does."""
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[{"Update": {
            "TableName": TABLE, "Key": {"pk": {"S": "slots"}}, "UpdateExpression": "ADD running :one",
            "ConditionExpression": "running < :cap",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": "3"}}}}])


def hold_transactions_after_their_copy(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Pause moto's transaction just after it deep-copied the table (where it takes its backup)."""
    import copy

    import moto.dynamodb.models as models

    copied, release = threading.Event(), threading.Event()

    def deepcopy(value, *args, **kwargs):
        result = copy.deepcopy(value, *args, **kwargs)
        if isinstance(value, models.Table):
            copied.set()
            assert release.wait(30), "the test never released the transaction"
        return result

    monkeypatch.setattr(models, "copy", types.SimpleNamespace(deepcopy=deepcopy))
    return copied, release


def cost(client) -> int:
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": "month"}}, ConsistentRead=True)["Item"]
    return int(item["cost"]["N"])


def test_moto_alone_loses_a_write_committed_while_a_transaction_is_cancelled(ddb, monkeypatch):
    from moto.dynamodb.responses import DynamoHandler

    original = getattr(DynamoHandler.call_action, "__wrapped__", DynamoHandler.call_action)
    monkeypatch.setattr(DynamoHandler, "call_action", original)  # moto as it ships
    copied, release = hold_transactions_after_their_copy(monkeypatch)
    transaction = threading.Thread(target=refused_reservation, args=(ddb,))
    transaction.start()
    assert copied.wait(30)
    add_cost(ddb)  # committed and acknowledged while the transaction runs
    assert cost(ddb) == 1
    release.set()
    transaction.join()
    assert cost(ddb) == 0, "moto restored its copy: the acknowledged write is gone"


def test_atomic_dynamodb_keeps_every_acknowledged_write(ddb, monkeypatch):
    from runtime.local.atomic_dynamodb import make_dynamodb_atomic

    make_dynamodb_atomic()
    copied, release = hold_transactions_after_their_copy(monkeypatch)
    transaction = threading.Thread(target=refused_reservation, args=(ddb,))
    transaction.start()
    assert copied.wait(30)
    writer = threading.Thread(target=add_cost, args=(ddb,))
    writer.start()
    writer.join(timeout=0.5)
    # The single-item write waits for the transaction instead of landing in the middle of it.
    assert writer.is_alive()
    release.set()
    transaction.join()
    writer.join()
    assert cost(ddb) == 1


def test_make_dynamodb_atomic_is_idempotent():
    from moto.dynamodb.responses import DynamoHandler

    from runtime.local.atomic_dynamodb import make_dynamodb_atomic

    make_dynamodb_atomic()
    once = DynamoHandler.call_action
    make_dynamodb_atomic()
    assert DynamoHandler.call_action is once and once.aidlc_serialised
