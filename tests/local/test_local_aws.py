"""The local AWS stand-in: moto's server with the declared resources, the SQS shim, and state across restarts."""

import json

import boto3
import pytest

from runtime import resources
from runtime.local import aws as local_aws
from runtime.local.lambda_shim import SqsPoller, http_api_event


@pytest.fixture
def moto_endpoint():
    server, endpoint = local_aws.start_moto()
    yield endpoint
    server.stop()


def client(name, endpoint):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1")


def test_every_declared_resource_is_created(moto_endpoint):
    local = local_aws.create_resources(moto_endpoint, "aidlc-t", {"automation-secret": "s3cret"})
    dynamodb = client("dynamodb", moto_endpoint)
    for table in resources.TABLES:
        described = dynamodb.describe_table(TableName=local.tables[table.logical_name])["Table"]
        assert described["KeySchema"][0]["AttributeName"] == table.hash_key
        assert {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])} == {i.name for i in table.indexes}
    sqs = client("sqs", moto_endpoint)
    tasks = sqs.get_queue_attributes(QueueUrl=local.queue_urls["tasks"], AttributeNames=["All"])["Attributes"]
    assert tasks["FifoQueue"] == "true"
    assert json.loads(tasks["RedrivePolicy"])["maxReceiveCount"] == resources.TASKS.max_receive_count
    secret = client("secretsmanager", moto_endpoint).get_secret_value(SecretId=local.secrets["automation-secret"])
    assert secret["SecretString"] == "s3cret"
    assert set(local.tables) == {t.logical_name for t in resources.TABLES}
    assert set(local.queue_urls) == {q.logical_name for q in resources.QUEUES}


def test_snapshot_and_restore_keep_tables_and_prototypes(moto_endpoint, tmp_path):
    local = local_aws.create_resources(moto_endpoint, "aidlc-a", {})
    client("dynamodb", moto_endpoint).put_item(
        TableName=local.tables["invocations"], Item={"invocation_id": {"S": "01ABC"}, "status": {"S": "completed"}}
    )
    client("s3", moto_endpoint).put_object(
        Bucket=local.bucket, Key="01ABC/index.html", Body=b"<h1>hi</h1>", ContentType="text/html",
        Tagging="aidlc%3Aexpires=true",
    )
    local_aws.snapshot(local, tmp_path)

    # A restart: moto's backends live in the process, so wipe them as a new process would start empty.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    server, fresh_endpoint = local_aws.start_moto()
    try:
        with pytest.raises(Exception, match="ResourceNotFound|does not exist"):
            client("dynamodb", fresh_endpoint).describe_table(TableName=local.tables["invocations"])
        fresh = local_aws.create_resources(fresh_endpoint, "aidlc-a", {})
        assert local_aws.restore(fresh, tmp_path) == 2
        item = client("dynamodb", fresh_endpoint).get_item(
            TableName=fresh.tables["invocations"], Key={"invocation_id": {"S": "01ABC"}}
        )["Item"]
        assert item["status"]["S"] == "completed"
        s3 = client("s3", fresh_endpoint)
        obj = s3.get_object(Bucket=fresh.bucket, Key="01ABC/index.html")
        assert obj["Body"].read() == b"<h1>hi</h1>" and obj["ContentType"] == "text/html"
        assert s3.get_object_tagging(Bucket=fresh.bucket, Key="01ABC/index.html")["TagSet"] == [
            {"Key": "aidlc:expires", "Value": "true"}
        ]
    finally:
        server.stop()


def test_poller_deletes_successes_and_leaves_reported_failures(moto_endpoint):
    local = local_aws.create_resources(moto_endpoint, "aidlc-p", {})
    sqs = client("sqs", moto_endpoint)
    url = local.queue_urls["completions"]
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen = []

    def handler(event, context):
        seen.extend(r["body"] for r in event["Records"])
        assert context.get_remaining_time_in_millis() > 0
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"].endswith(":aidlc-p-completions") for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("fail")]}

    poller = SqsPoller("completion", url, handler, sqs_client=sqs, wait_seconds=0)
    while poller.poll_once():
        pass
    assert sorted(seen) == ["fail-1", "ok-1", "ok-2"]
    assert poller.failures == 1
    # The failed message is still on the queue (in flight until its visibility timeout), the others are gone.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_a_raising_handler_fails_the_whole_batch(moto_endpoint):
    local = local_aws.create_resources(moto_endpoint, "aidlc-r", {})
    sqs = client("sqs", moto_endpoint)
    url = local.queue_urls["completions"]
    sqs.send_message(QueueUrl=url, MessageBody="x")

    def handler(event, context):
        raise RuntimeError("boom")

    poller = SqsPoller("completion", url, handler, sqs_client=sqs, wait_seconds=0)
    assert poller.poll_once() == 1
    assert poller.failures == 1
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_http_api_event_shape():
    event = http_api_event("POST", "/webhook/notion", headers={"X-Notion-Signature": "sha256=ab"}, body=b'{"a": 1}',
                           query="x=1&y=a%20b")
    assert event["version"] == "2.0" and event["routeKey"] == "POST /webhook/notion"
    assert event["headers"]["x-notion-signature"] == "sha256=ab"
    assert event["queryStringParameters"] == {"x": "1", "y": "a b"}
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    binary = http_api_event("POST", "/x", headers={}, body=b"\xff\xfe")
    assert binary["isBase64Encoded"] is True
