"""Fuzz: 1,000+ malformed or hostile requests to the internal API (POST /invoke bodies with wrong types at every
path, deep nesting, huge integers, bad Unicode, bad base64; odd ids and query strings on every other route):
never a 5xx, always the error shape, and a refused request enqueues and records nothing."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.pipeline.fuzzing import assert_refusal, fuzz_settings, hostile_bodies, json_values, mutations, serving

EXAMPLES = 1000
INVOKE = {"project_id": "acme", "notion_page_id": "page-api", "agent_type": "code",
          "story": {"page_id": "page-api", "title": "Add a login page", "url": "",
                    "properties": {"Acceptance Criteria": "- works", "Owner": ["u1"]},
                    "content_markdown": "As a user", "last_edited_time": None},
          "parent_invocation_id": None}


@pytest.fixture
def fuzzed(pipeline):
    with serving(pipeline):
        yield pipeline


def pct(text: str) -> str:
    """A path segment as a client sends it: percent-encoded UTF-8 (lone surrogates too, as their bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def raw_invoke(body: bytes, as_base64: bool) -> dict:
    return {"method": "POST", "path": "/invoke", "body": body, "base64": as_base64}


ids = st.text(max_size=40) | st.sampled_from(["01ARZ3NDEKTSV4RRFFQ69G5FAV", "..", "%2F", "a/b", "\ud800", " "])
queries = st.dictionaries(st.sampled_from(["status", "agent_type", "limit", "next_token", "x"]),
                          st.text(max_size=30) | st.integers(-5, 10**6).map(str), max_size=4)

requests = st.one_of(
    st.builds(raw_invoke, mutations(INVOKE), st.booleans()),
    st.builds(raw_invoke, hostile_bodies, st.booleans()),
    st.builds(lambda v: raw_invoke(json.dumps({**INVOKE, "story": {"title": "t", "properties": {"p": v}}}).encode(),
                                   False), json_values),
    st.builds(lambda i: {"method": "GET", "path": f"/invocation/{pct(i)}"}, ids),
    st.builds(lambda i: {"method": "POST", "path": f"/invocation/{pct(i)}/cancel"}, ids),
    st.builds(lambda i, q: {"method": "GET", "path": f"/project/{pct(i)}/invocations",
                            "query": urlencode(q)}, ids | st.just("acme"), queries),
    st.builds(lambda i: {"method": "GET", "path": f"/project/{pct(i)}/cost-summary"}, ids),
)


def send(p, request: dict) -> tuple[int, dict]:
    from runtime.handlers import api
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    body = request.get("body", b"")
    event_ = http_api_event(request["method"], request["path"], headers={"content-type": "application/json"},
                            body=body if isinstance(body, bytes) else body.encode(), query=request.get("query", ""))
    if request.get("base64") and body:
        event_["body"], event_["isBase64Encoded"] = base64.b64encode(body).decode(), True
    result = api.handler(event_, LocalLambdaContext(function_name="api"))
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}


@fuzz_settings(EXAMPLES)
@given(request=requests)
def test_no_malformed_request_gets_a_5xx_and_a_refused_one_changes_nothing(fuzzed, request):
    before = len(fuzzed.published)
    status, reply = send(fuzzed, request)
    event(f"HTTP {status}")
    assert status < 500, (status, reply)
    if status >= 400:
        assert_refusal(reply)
        assert len(fuzzed.published) == before
    elif request["path"] != "/invoke":
        assert len(fuzzed.published) == before  # reads and cancels never enqueue


@pytest.mark.parametrize("body, status, words", [
    (b"[" * 50_000 + b"]" * 50_000, 400, "nests 50000 levels"),
    (b'{"project_id": 1' + b"0" * 5000 + b"}", 400, "digits"),
    (b'{"project_id": "\\udc00", "notion_page_id": "p", "agent_type": "code"}', 400, "surrogate"),
    (json.dumps({**INVOKE, "story": {"title": ["x"]}}).encode(), 422, "story.title"),
])
def test_the_reported_500s_of_post_invoke_are_4xx_now(fuzzed, body, status, words):
    got, reply = send(fuzzed, {"method": "POST", "path": "/invoke", "body": body})
    assert got == status and words in reply["error"]["message"], reply
    assert fuzzed.published == [] and fuzzed.invocations() == []


def test_the_unmutated_request_is_accepted(fuzzed):
    status, reply = send(fuzzed, {"method": "POST", "path": "/invoke", "body": json.dumps(INVOKE).encode()})
    assert status == 202 and len(fuzzed.published) == 1
