"""Local AWS: moto's server on loopback with the queues, tables, bucket and secrets of `runtime/resources.py`.

The real boto3 code paths run against it: each principal's clients (`LocalStack.clients_for`) are pointed at it.
moto keeps state in memory only, so `snapshot()` writes the tables and the prototype objects under the state folder
and `restore()` loads them on the next start; that is what lets `aidlc dev` keep invocations and prototypes across a
restart. (Queues are not kept: a message in flight at shutdown is re-found by the reconcile sweeper.)
"""

from __future__ import annotations

import base64
import logging
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from runtime import resources

LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"  # moto's default account


@dataclass
class LocalAws:
    """Names and URLs of the local resources (what `runtime.resources.PhysicalNames` is made of locally)."""

    endpoint_url: str
    prefix: str
    tables: dict[str, str] = field(default_factory=dict)  # logical -> physical
    queue_urls: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    bucket: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # logical -> secret name


def start_moto() -> tuple[Any, str]:
    """Start moto's threaded server on a free loopback port; returns (server, endpoint URL)."""
    from moto.server import ThreadedMotoServer

    from runtime.local.atomic_dynamodb import make_dynamodb_atomic

    make_dynamodb_atomic()  # moto's cancelled transactions would otherwise erase concurrent writes
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call is noise here
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def delete_resources(local: LocalAws) -> None:
    """Delete what `create_resources` made. moto keeps its backends per process, shared by every moto server in it,
    so a stopped stack removes its own resources (and only those: another stack in the process keeps running)."""
    session, url = _session(local.endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    sqs = session.client("sqs", endpoint_url=url)
    s3 = session.client("s3", endpoint_url=url)
    secrets = session.client("secretsmanager", endpoint_url=url)
    for name in local.tables.values():
        dynamodb.delete_table(TableName=name)
    for queue_url in (*local.queue_urls.values(), *local.dlq_urls.values()):
        sqs.delete_queue(QueueUrl=queue_url)
    if local.bucket:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=local.bucket):
            for entry in page.get("Contents", []):
                s3.delete_object(Bucket=local.bucket, Key=entry["Key"])
        s3.delete_bucket(Bucket=local.bucket)
    for name in local.secrets.values():
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def _session(endpoint_url: str):
    import boto3

    return boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION
    ), endpoint_url


def create_resources(endpoint_url: str, prefix: str, secret_values: dict[str, str]) -> LocalAws:
    """Create every declared table, queue (with its DLQ and redrive), the bucket and the secrets."""
    session, url = _session(endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    sqs = session.client("sqs", endpoint_url=url)
    s3 = session.client("s3", endpoint_url=url)
    secrets = session.client("secretsmanager", endpoint_url=url)
    local = LocalAws(endpoint_url=endpoint_url, prefix=prefix)

    for table in resources.TABLES:
        name = f"{prefix}-{table.logical_name}"
        dynamodb.create_table(**table.create_table_request(name))
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
            )
        local.tables[table.logical_name] = name

    for queue in resources.QUEUES:
        fifo = {"FifoQueue": "true"} if queue.fifo else {}
        dlq_url = sqs.create_queue(QueueName=queue.dlq_name(prefix), Attributes=fifo)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {
            **fifo,
            # Locally a failed message comes back after a few seconds, not minutes, so a retry is visible.
            "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}),
        }
        local.queue_urls[queue.logical_name] = sqs.create_queue(
            QueueName=queue.physical_name(prefix), Attributes=attributes
        )["QueueUrl"]
        local.dlq_urls[queue.logical_name] = dlq_url

    local.bucket = f"{prefix}-{resources.PROTOTYPES.logical_name}"
    s3.create_bucket(Bucket=local.bucket)

    for secret in resources.SECRETS:
        name = f"{prefix}/{secret.logical_name}"
        value = secret_values.get(secret.logical_name, "")
        secrets.create_secret(Name=name, SecretString=value or "unset")
        local.secrets[secret.logical_name] = name
    return local


# --- keeping state across restarts -------------------------------------------------------------------------

_KEPT_TABLES = ("invocations", "projects", "audit")


def snapshot(local: LocalAws, state_dir: Path) -> None:
    """Write the kept tables and every prototype object to `state_dir/aws/` (atomically, file by file)."""
    session, url = _session(local.endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    s3 = session.client("s3", endpoint_url=url)
    target = state_dir / "aws"
    target.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict]] = {}
    for logical in _KEPT_TABLES:
        items: list[dict] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=local.tables[logical]):
            items.extend(page["Items"])
        tables[logical] = items
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=local.bucket):
        for entry in page.get("Contents", []):
            obj = s3.get_object(Bucket=local.bucket, Key=entry["Key"])
            tags = s3.get_object_tagging(Bucket=local.bucket, Key=entry["Key"]).get("TagSet", [])
            objects.append(
                {
                    "key": entry["Key"],
                    "content_type": obj.get("ContentType", "application/octet-stream"),
                    "body": base64.b64encode(obj["Body"].read()).decode(),
                    "tags": tags,
                }
            )
    _write_atomic(target / "tables.json", json.dumps(tables))
    _write_atomic(target / "objects.json", json.dumps(objects))


def restore(local: LocalAws, state_dir: Path) -> int:
    """Load what `snapshot` wrote, if anything; returns the number of items and objects restored."""
    source = state_dir / "aws"
    if not (source / "tables.json").exists():
        return 0
    session, url = _session(local.endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    s3 = session.client("s3", endpoint_url=url)
    count = 0
    for logical, items in json.loads((source / "tables.json").read_text()).items():
        for item in items:
            dynamodb.put_item(TableName=local.tables[logical], Item=item)
            count += 1
    objects_file = source / "objects.json"
    for obj in json.loads(objects_file.read_text()) if objects_file.exists() else []:
        s3.put_object(
            Bucket=local.bucket,
            Key=obj["key"],
            Body=base64.b64decode(obj["body"]),
            ContentType=obj["content_type"],
            Tagging=urlencode({tag["Key"]: tag["Value"] for tag in obj["tags"]}),
        )
        count += 1
    return count


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
