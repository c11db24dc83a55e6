"""Local AWS: moto's server on loopback with the queues, tables, bucket and secrets of `runtime/resources.py`.

The real boto3 code paths run against it: each principal's clients (`LocalStack.clients_for`) are pointed at it.
moto keeps state in memory only. Two files under the state folder keep it instead (`aws/`):

- a write-ahead journal (`WriteJournal`): every DynamoDB item write and S3 object write the server acknowledges is
  appended, as the request it was, before its answer leaves the server; on the next start it is replayed, in order,
  into the fresh moto. So a hard kill (SIGKILL, a crash) loses nothing the pipeline was told had been written.
- a snapshot (`snapshot()`, on a clean stop): the kept tables and objects as plain items, so the journal can start
  again empty; `restore()` loads it, then the journal written after it is replayed.

(Queues are not kept: a message in flight at shutdown is re-found by the sweepers: reconcile re-sends queued runs,
redeliver re-sends write-backs, and the local stack fails the runs an interrupted start left running.)
"""

from __future__ import annotations

import base64
import io
import logging
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable, Mapping
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


# The writes that change what is kept: DynamoDB item writes (JSON protocol, named by X-Amz-Target) and S3 object
# writes. Reads, SQS and Secrets Manager are not journaled (queues are not kept; the stack puts its secrets on start).
_DYNAMODB_WRITES = frozenset(
    f"DynamoDB_20120810.{action}"
    for action in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)
# The request environ keys a replay needs (the rest is the server's own: sockets, streams).
_REPLAYED_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "REQUEST_URI",
                  "RAW_URI", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")


def _journaled(environ: dict) -> bool:
    if environ.get("HTTP_X_AMZ_TARGET") in _DYNAMODB_WRITES:
        return True
    method = environ.get("REQUEST_METHOD")
    if method not in ("PUT", "POST", "DELETE") or "/s3/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return False
    bucket, _, key = environ.get("PATH_INFO", "").lstrip("/").partition("/")
    return bool(key) or "delete" in environ.get("QUERY_STRING", "")  # an object, or DeleteObjects (POST ?delete)


class WriteJournal:
    """WSGI middleware in front of moto: appends each acknowledged write to a journal file before answering.

    Why a journal rather than a snapshot per write: a snapshot costs a scan of every kept table and object, which
    grows with the state; a journal line costs one append of the request (about its body's size). Why the request
    rather than its effect: replaying the same requests in the same order into a fresh moto gives the same items (the
    pipeline's writes carry their own times and ids: nothing in them depends on when they are applied), without
    reading moto's internals. Writes are journaled and applied under one lock, so the journal's order is the order
    moto applied them in (the local DynamoDB serialises its requests anyway: atomic_dynamodb.py). A line is written
    with one `write` to the file and not fsynced: it survives the process being killed (the kernel has it), not the
    machine losing power, which is enough for a local stack. `appended` counts the lines (the measured cost).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.path: Path | None = None  # None: not recording (resources being created, a restore being replayed)
        self.appended = 0
        self._lock = threading.Lock()
        self._fd: int | None = None

    def record_to(self, path: Path | None) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self.path = path
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if self._fd is None or not _journaled(environ):
            return self.app(environ, start_response)
        body = _read_body(environ)
        answered: list[Any] = []

        def keep_answer(status: str, headers: list, exc_info: Any = None) -> Any:
            answered[:] = [status, headers, exc_info]
            return lambda data: None  # moto returns its body; it never writes through this

        with self._lock:
            if self._fd is None:  # recording stopped while this request waited
                return self.app(environ, start_response)
            chunks = list(self.app(environ, keep_answer))
            if answered and answered[0][:1] == "2":
                line = {key: environ[key] for key in _REPLAYED_KEYS if key in environ}
                line["headers"] = {key: value for key, value in environ.items() if key.startswith("HTTP_")}
                line["body"] = base64.b64encode(body).decode()
                os.write(self._fd, (json.dumps(line) + "\n").encode())
                self.appended += 1
        start_response(*answered)
        return chunks

    def replay(self, path: Path) -> int:
        """Apply a journal's writes, in order, straight into the app (not over the network); returns how many."""
        from werkzeug.test import EnvironBuilder

        count = 0
        if not path.exists():
            return 0
        for raw in path.read_bytes().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # the last line of a killed process may be cut short: that write was never acknowledged
            body = base64.b64decode(line.pop("body"))
            environ = EnvironBuilder(method=line["REQUEST_METHOD"]).get_environ()
            environ.update({key: value for key, value in line.items() if key != "headers"})
            environ.update(line["headers"])
            environ["wsgi.input"] = io.BytesIO(body)
            answered: list[str] = []
            for _ in self.app(environ, lambda status, headers, exc_info=None: answered.append(status)):
                pass
            count += 1
        return count


def _read_body(environ: dict) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    body = stream.read(int(length)) if length else stream.read() if environ.get("wsgi.input_terminated") else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class LocalMotoServer:
    """moto's threaded server (as `moto.server.ThreadedMotoServer` builds it) with the write journal in front."""

    def __init__(self) -> None:
        from moto.moto_server.threaded_moto_server import MotoRequestHandler
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.journal = WriteJournal(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, self.journal, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.journal.record_to(None)
        self._server.shutdown()
        self._thread.join(5)


def start_moto() -> tuple[LocalMotoServer, str]:
    """Start moto's threaded server on a free loopback port; returns (server, endpoint URL)."""
    from runtime.local.atomic_dynamodb import make_dynamodb_atomic

    make_dynamodb_atomic()  # moto's cancelled transactions would otherwise erase concurrent writes
    server = LocalMotoServer()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call is noise here
    server.start()
    return server, server.endpoint_url


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
    """Create every declared table, queue (with its DLQ and redrive), the bucket and the secrets at `endpoint_url`."""
    session, url = _session(endpoint_url)
    return create_declared(lambda service: session.client(service, endpoint_url=url), prefix, secret_values,
                           endpoint_url=endpoint_url)


def create_declared(
    client: Callable[[str], Any],
    prefix: str,
    secret_values: Mapping[str, str] | None = None,
    *,
    endpoint_url: str = "",
    tables: Iterable[resources.Table] = resources.TABLES,
    queues: Iterable[resources.Queue] = resources.QUEUES,
    secrets: Iterable[resources.Secret] = resources.SECRETS,
    bucket: bool = True,
) -> LocalAws:
    """Create the declared resources (runtime/resources.py) through `client(service)`, named as the local stack names
    them (`<prefix>-<logical name>`): each table with its TTL, each queue with its DLQ and redrive, the prototypes
    bucket and the secrets (`secret_values` by logical name, else "unset"). The one builder of the local stack, the
    load bench and the tests' moto fixtures; `tables`/`queues`/`secrets`/`bucket` choose a subset."""
    local = LocalAws(endpoint_url=endpoint_url, prefix=prefix)
    dynamodb = client("dynamodb")
    for table in tables:
        name = f"{prefix}-{table.logical_name}"
        dynamodb.create_table(**table.create_table_request(name))
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
            )
        local.tables[table.logical_name] = name

    queues = list(queues)
    sqs = client("sqs") if queues else None
    for queue in queues:
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

    if bucket:
        local.bucket = f"{prefix}-{resources.PROTOTYPES.logical_name}"
        client("s3").create_bucket(Bucket=local.bucket)

    secrets = list(secrets)
    manager = client("secretsmanager") if secrets else None
    for secret in secrets:
        name = f"{prefix}/{secret.logical_name}"
        value = (secret_values or {}).get(secret.logical_name, "")
        manager.create_secret(Name=name, SecretString=value or "unset")
        local.secrets[secret.logical_name] = name
    return local


# --- keeping state across restarts -------------------------------------------------------------------------

_KEPT_TABLES = ("invocations", "projects", "audit")


def journal_path(state_dir: Path) -> Path:
    """The journal that continues the current snapshot (its generation is in the snapshot: see `snapshot`)."""
    return state_dir / "aws" / f"journal-{_generation(state_dir)}.jsonl"


def _generation(state_dir: Path) -> int:
    path = state_dir / "aws" / "snapshot.json"
    return json.loads(path.read_text()).get("generation", 0) if path.exists() else 0


def snapshot(local: LocalAws, state_dir: Path) -> None:
    """Write the kept tables and every prototype object to `state_dir/aws/snapshot.json`, in one atomic replace.

    The snapshot names the next journal generation, so the journal it replaces is never replayed on top of it (a kill
    between this write and the old journal's removal leaves a stale journal that is ignored and then removed)."""
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
    generation = _generation(state_dir) + 1
    _write_atomic(target / "snapshot.json", json.dumps({"generation": generation, "tables": tables, "objects": objects}))
    _remove_stale_journals(state_dir)


def _remove_stale_journals(state_dir: Path) -> None:
    current = journal_path(state_dir)
    for path in (state_dir / "aws").glob("journal-*.jsonl"):
        if path != current:
            path.unlink(missing_ok=True)


def restore(local: LocalAws, state_dir: Path) -> int:
    """Load what `snapshot` wrote, if anything; returns the number of items and objects restored. (The journal
    written after it is replayed separately: `resume`.)"""
    source = state_dir / "aws"
    if (source / "snapshot.json").exists():
        kept = json.loads((source / "snapshot.json").read_text())
        tables, objects = kept["tables"], kept["objects"]
    elif (source / "tables.json").exists():  # the two files an earlier version wrote
        tables = json.loads((source / "tables.json").read_text())
        objects_file = source / "objects.json"
        objects = json.loads(objects_file.read_text()) if objects_file.exists() else []
    else:
        return 0
    session, url = _session(local.endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    s3 = session.client("s3", endpoint_url=url)
    count = 0
    for logical, items in tables.items():
        for item in items:
            dynamodb.put_item(TableName=local.tables[logical], Item=item)
            count += 1
    for obj in objects:
        s3.put_object(
            Bucket=local.bucket,
            Key=obj["key"],
            Body=base64.b64decode(obj["body"]),
            ContentType=obj["content_type"],
            Tagging=urlencode({tag["Key"]: tag["Value"] for tag in obj["tags"]}),
        )
        count += 1
    return count


def resume(server: LocalMotoServer, local: LocalAws, state_dir: Path) -> tuple[int, int]:
    """Bring back what a previous run kept: the snapshot, then the journal written after it; then journal every new
    write. Returns (items and objects restored, journaled writes replayed)."""
    restored = restore(local, state_dir)
    journal = journal_path(state_dir)
    replayed = server.journal.replay(journal)
    _remove_stale_journals(state_dir)
    server.journal.record_to(journal)
    return restored, replayed


def checkpoint(server: LocalMotoServer, local: LocalAws, state_dir: Path) -> None:
    """On a clean stop: snapshot, and stop journaling (the snapshot holds everything; its journal starts empty)."""
    server.journal.record_to(None)
    snapshot(local, state_dir)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
