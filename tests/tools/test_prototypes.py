"""Prototype uploads to (moto) S3: keys under the invocation, content types, expiry tags, URLs, the policy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from runtime.prototypes import PrototypeError, PrototypeStore
from runtime.tools.registry import ToolRegistry, ToolServices
from tests.conftest import declared_aws
from tests.tools.conftest import INVOCATION, agent_context

BUCKET = "aidlc-dev-prototypes"  # the prototypes bucket declared_aws("aidlc-dev") makes


@pytest.fixture
def s3():
    with declared_aws("aidlc-dev", tables=[], queues=[], secrets=[]):
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def store(s3) -> PrototypeStore:
    return PrototypeStore(BUCKET, "https://d111.cloudfront.net/", s3_client=s3, expiry_days=3)


def _tags(s3, key):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def test_upload_sets_keys_content_types_tags_and_url(s3, store):
    files = {"index.html": "<!doctype html><h1>Checkout</h1>", "css/app.css": "h1{color:red}",
             "js/app.js": "console.log(1)", "logo.svg": "<svg/>"}
    before = datetime.now(timezone.utc)
    result = store.upload(INVOCATION, files)
    assert result["url"] == f"https://d111.cloudfront.net/{INVOCATION}/index.html"
    assert result["key_prefix"] == f"{INVOCATION}/" and result["s3_key"] == f"{INVOCATION}/index.html"
    assert result["files"] == sorted(f"{INVOCATION}/{p}" for p in files)
    assert result["expiry_days"] == 3 and result["variant"] is None
    expires = datetime.fromisoformat(result["expires_at"])
    assert before + timedelta(days=3) <= expires <= datetime.now(timezone.utc) + timedelta(days=3)

    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert listed == result["files"]
    types = {p: s3.head_object(Bucket=BUCKET, Key=f"{INVOCATION}/{p}")["ContentType"] for p in files}
    assert types == {"index.html": "text/html; charset=utf-8", "css/app.css": "text/css; charset=utf-8",
                     "js/app.js": "text/javascript; charset=utf-8", "logo.svg": "image/svg+xml"}
    body = s3.get_object(Bucket=BUCKET, Key=f"{INVOCATION}/index.html")["Body"].read().decode()
    assert body == files["index.html"]
    assert _tags(s3, f"{INVOCATION}/css/app.css") == {"aidlc:expires": "true", "aidlc:expiry-days": "3",
                                                       "aidlc:invocation-id": INVOCATION}


def test_variants_go_in_their_own_folder(store, s3):
    a = store.upload(INVOCATION, {"index.html": "A"}, variant="A")
    b = store.upload(INVOCATION, {"index.html": "B"}, variant="B")
    assert a["url"].endswith(f"/{INVOCATION}/A/index.html") and b["s3_key"] == f"{INVOCATION}/B/index.html"
    assert s3.get_object(Bucket=BUCKET, Key=b["s3_key"])["Body"].read() == b"B"
    assert store.url(INVOCATION, "index.html", variant="A") == a["url"]


def test_main_document_is_the_shallowest_html(store):
    assert store.upload(INVOCATION, {"pages/b.html": "b", "app.css": "x", "start.html": "s"})["s3_key"].endswith("/start.html")


@pytest.mark.parametrize("bad", [{"../x.html": "x"}, {"/abs.html": "x"}, {"a//b.html": "x"}, {}])
def test_bad_paths_upload_nothing(store, s3, bad):
    files = {"index.html": "ok", **bad} if bad else {}
    with pytest.raises(PrototypeError):
        store.upload(INVOCATION, files)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.mark.parametrize("invocation", ["a/b", "", "../up", "x y"])
def test_invocation_ids_cannot_escape_their_prefix(invocation):
    store = PrototypeStore(BUCKET, "https://cdn.example", s3_client=object())  # refused before any S3 call
    with pytest.raises(PrototypeError, match="invalid invocation_id"):
        store.upload(invocation, {"index.html": "x"})


def test_the_mock_agent_uploads_under_its_own_invocation_only(store, s3, policy, audit_log):
    tools = ToolRegistry.default()
    services = ToolServices(prototypes=store, policy=policy, audit=audit_log)
    context = agent_context(services, "mock", tools)
    ok = tools.call("prototype_upload", {"invocation_id": INVOCATION, "files": {"index.html": "<p>hi</p>"}}, context)
    assert ok.ok and ok.content["url"].endswith(f"{INVOCATION}/index.html")
    foreign = tools.call("prototype_upload", {"invocation_id": "01JDSOMEONEELSE", "files": {"index.html": "x"}}, context)
    assert foreign.denied and "own invocation prefix" in foreign.error
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [f"{INVOCATION}/index.html"]
    url = tools.call("prototype_url", {"invocation_id": INVOCATION}, context)
    assert url.content == {"url": f"https://d111.cloudfront.net/{INVOCATION}/"}
    assert [r.outcome for r in audit_log.records] == ["ok", "denied", "ok"]
