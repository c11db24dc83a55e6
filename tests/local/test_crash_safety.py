"""The local stack's state survives a hard kill (the write journal), its start refuses what it can't use (state
folder, lock, port), and its front door answers only for itself (Host, Origin)."""

import os
import socket
import time
import urllib.request

import boto3
import pytest
from starlette.testclient import TestClient

from runtime.local import aws as local_aws
from runtime.local.gateway import GatewayBackends, create_gateway_app, loopback_hosts
from runtime.local.stack import LocalStack, StackOptions, StartRefused, _lock_state_dir


def client(name, endpoint):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def reset_moto(endpoint):
    """A new process starts with moto empty; in this one its backends are shared, so empty them."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()


def add_cost(dynamodb, table, amount):
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "p1"}},
                         UpdateExpression="ADD spent :a", ExpressionAttributeValues={":a": {"N": str(amount)}})


def spent(endpoint, local):
    item = client("dynamodb", endpoint).get_item(TableName=local.tables["projects"],
                                                 Key={"pk": {"S": "p1"}})["Item"]
    return int(item["spent"]["N"])


def started_with_state(tmp_path):
    """A start on `tmp_path` (its resources named after it: moto's backends are shared by the tests in a process)."""
    server, endpoint = local_aws.start_moto()
    local = local_aws.create_resources(endpoint, f"aidlc-{abs(hash(str(tmp_path))) % 10**8}", {})
    restored = local_aws.resume(server, local, tmp_path)
    return server, endpoint, local, restored


def test_acknowledged_writes_survive_a_kill_and_are_applied_once(tmp_path):
    server, endpoint, local, _ = started_with_state(tmp_path)
    dynamodb, s3 = client("dynamodb", endpoint), client("s3", endpoint)
    for amount in (3, 4, 5):  # ADD is not idempotent: applied twice, the total would show it
        add_cost(dynamodb, local.tables["projects"], amount)
    dynamodb.put_item(TableName=local.tables["invocations"],
                      Item={"invocation_id": {"S": "01A"}, "status": {"S": "running"}})
    dynamodb.transact_write_items(TransactItems=[{"Update": {
        "TableName": local.tables["invocations"], "Key": {"invocation_id": {"S": "01A"}},
        "UpdateExpression": "SET #s = :done", "ConditionExpression": "#s = :running",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":done": {"S": "completed"}, ":running": {"S": "running"}}}}])
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):  # refused: not journaled
        dynamodb.put_item(TableName=local.tables["invocations"], Item={"invocation_id": {"S": "01A"}},
                          ConditionExpression="attribute_not_exists(invocation_id)")
    s3.put_object(Bucket=local.bucket, Key="01A/index.html", Body=b"<h1>kept</h1>" * 1000, ContentType="text/html",
                  Tagging="aidlc%3Aexpires=true")
    assert server.journal.appended == 6
    # A kill: no snapshot, the server gone, moto's memory gone.
    reset_moto(endpoint)
    server.stop()

    server, endpoint, local, (restored, replayed) = started_with_state(tmp_path)
    try:
        assert (restored, replayed) == (0, 6)
        assert spent(endpoint, local) == 12
        item = client("dynamodb", endpoint).get_item(TableName=local.tables["invocations"],
                                                     Key={"invocation_id": {"S": "01A"}})["Item"]
        assert item["status"]["S"] == "completed"
        s3 = client("s3", endpoint)
        obj = s3.get_object(Bucket=local.bucket, Key="01A/index.html")
        assert obj["Body"].read() == b"<h1>kept</h1>" * 1000 and obj["ContentType"] == "text/html"
        assert s3.get_object_tagging(Bucket=local.bucket, Key="01A/index.html")["TagSet"] == [
            {"Key": "aidlc:expires", "Value": "true"}]
    finally:
        server.stop()


def test_a_clean_stop_compacts_and_the_old_journal_is_never_replayed_again(tmp_path):
    server, endpoint, local, _ = started_with_state(tmp_path)
    add_cost(client("dynamodb", endpoint), local.tables["projects"], 7)
    old_journal = (tmp_path / "aws" / "journal-0.jsonl").read_bytes()
    local_aws.checkpoint(server, local, tmp_path)
    assert not (tmp_path / "aws" / "journal-0.jsonl").exists()
    # As if killed between the snapshot and the old journal's removal: it is back, and must be ignored.
    (tmp_path / "aws" / "journal-0.jsonl").write_bytes(old_journal)
    reset_moto(endpoint)
    server.stop()

    server, endpoint, local, (restored, replayed) = started_with_state(tmp_path)
    try:
        assert replayed == 0 and restored == 1
        add_cost(client("dynamodb", endpoint), local.tables["projects"], 1)  # journaled after the snapshot
        assert spent(endpoint, local) == 8
        assert not (tmp_path / "aws" / "journal-0.jsonl").exists()
    finally:
        reset_moto(endpoint)
        server.stop()
    server, endpoint, local, (restored, replayed) = started_with_state(tmp_path)
    try:
        assert (restored, replayed) == (1, 1) and spent(endpoint, local) == 8
    finally:
        server.stop()


def test_a_cut_short_last_line_is_skipped(tmp_path):
    server, endpoint, local, _ = started_with_state(tmp_path)
    add_cost(client("dynamodb", endpoint), local.tables["projects"], 2)
    reset_moto(endpoint)
    server.stop()
    with local_aws.journal_path(tmp_path).open("a") as journal:
        journal.write('{"REQUEST_METHOD": "POST", "bo')  # killed mid-write: never acknowledged
    server, endpoint, local, (_, replayed) = started_with_state(tmp_path)
    try:
        assert replayed == 1 and spent(endpoint, local) == 2
    finally:
        server.stop()


def test_journal_cost(tmp_path, capsys):
    """The figure behind choosing a journal: the time of a write with and without it (printed, not asserted)."""
    timings = {}
    for journaled in (False, True):
        server, endpoint = local_aws.start_moto()
        local = local_aws.create_resources(endpoint, f"aidlc-b{int(journaled)}", {})
        if journaled:
            local_aws.resume(server, local, tmp_path)
        dynamodb = client("dynamodb", endpoint)
        started = time.perf_counter()
        for n in range(200):
            dynamodb.put_item(TableName=local.tables["invocations"],
                              Item={"invocation_id": {"S": f"i{n}"}, "status": {"S": "queued"}, "pad": {"S": "x" * 2000}})
        timings[journaled] = (time.perf_counter() - started) / 200 * 1000
        assert server.journal.appended == (200 if journaled else 0)
        server.stop()
    with capsys.disabled():
        print(f"\nPutItem (2 KB) over loopback: {timings[False]:.2f} ms without the journal, "
              f"{timings[True]:.2f} ms with it; journal {local_aws.journal_path(tmp_path).stat().st_size} bytes "
              f"for 200 writes")


# --- refusals on start --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["", "  "])
def test_an_empty_state_folder_is_refused(state):
    with pytest.raises(StartRefused, match="state folder is empty"):
        LocalStack(StackOptions(port=0, state_dir=state)).start()


def test_a_file_or_a_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StartRefused, match="is a file"):
        LocalStack(StackOptions(port=0, state_dir=tmp_path / "afile")).start()
    with pytest.raises(StartRefused, match="cannot make the state folder"):
        LocalStack(StackOptions(port=0, state_dir=tmp_path / "afile" / "state")).start()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_an_unwritable_state_folder_is_refused(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    with pytest.raises(StartRefused, match="not writable"):
        LocalStack(StackOptions(port=0, state_dir=locked)).start()


def test_a_locked_state_folder_is_refused_with_the_holder(tmp_path):
    fd = _lock_state_dir(tmp_path)  # what a running `aidlc dev` holds
    try:
        with pytest.raises(StartRefused, match=rf"in use by another aidlc dev \(pid {os.getpid()}\)"):
            LocalStack(StackOptions(port=0, state_dir=tmp_path)).start()
    finally:
        os.close(fd)
    assert not (tmp_path / "aws").exists()  # refused before anything was started or written


def test_a_port_in_use_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartRefused, match=f"port {port} on 127.0.0.1 is in use"):
            LocalStack(StackOptions(port=port, state_dir=tmp_path / "s")).start()
    # the lock was released with the refusal: the folder can be used at once
    os.close(_lock_state_dir(tmp_path / "s"))


# --- the front door answers only for itself -----------------------------------------------------------------

def front_door(port=8123):
    backends = GatewayBackends(handlers={}, read_prototype=lambda key: None, dev_info=lambda: {"notion_token": "t"},
                               dashboard_state=lambda: {}, set_story_status=lambda page, status: None,
                               pull_request_view=lambda n: None, notion_page_view=lambda page: None)
    return TestClient(create_gateway_app(backends, allowed_hosts=loopback_hosts(port)))


@pytest.mark.parametrize("host", ["127.0.0.1:8123", "localhost:8123", "[::1]:8123", "LOCALHOST:8123"])
def test_its_own_host_and_origin_are_answered(host):
    answer = front_door().get("/dev/info", headers={"Host": host, "Origin": f"http://{host}"})
    assert answer.status_code == 200 and answer.json() == {"notion_token": "t"}
    assert front_door().get("/dev/info", headers={"Host": host}).status_code == 200  # no Origin: curl, emulators


@pytest.mark.parametrize("host", ["attacker.example:8123", "127.0.0.1:9999", "127.0.0.1", "localhost.evil:8123"])
def test_a_rebound_host_is_refused_with_421(host):
    answer = front_door().get("/dev/info", headers={"Host": host})
    assert answer.status_code == 421
    assert "does not answer for Host" in answer.text and "notion_token" not in answer.text


@pytest.mark.parametrize("origin", ["http://attacker.example", "http://127.0.0.1:9999", "null",
                                    "https://127.0.0.1:8123"])
def test_a_foreign_origin_is_refused_with_403(origin):
    for method in ("GET", "POST"):
        answer = front_door().request(method, "/dev/info", headers={"Host": "127.0.0.1:8123", "Origin": origin})
        assert answer.status_code == 403 and "are refused" in answer.text and "notion_token" not in answer.text
