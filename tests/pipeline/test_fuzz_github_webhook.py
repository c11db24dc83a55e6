"""Fuzz: malformed or hostile deliveries to `POST /webhook/github` (validly signed review events with a value of
the wrong type at any path, hostile bodies, forged signatures and missing headers): never a 5xx, always the error
shape for a refusal, and nothing enqueued (no run opened the PR the events name, so none has a reason to)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.github.backend import hub_signature, pr_marker
from tests.pipeline.conftest import build_pipeline, make_project
from tests.pipeline.fuzzing import assert_refusal, fuzz_settings, header_values, hostile_bodies, mutations, serving

SECRET = "gh-fuzz-secret"
EXAMPLES = 400
USER = {"login": "octocat", "id": 1, "type": "User"}
REVIEW_COMMENT = {
    "action": "created",
    "comment": {"id": 11, "body": "Rename this", "path": "a.py", "line": 3, "diff_hunk": "@@ -1 +1 @@",
                "created_at": "2026-12-02T07:00:00Z", "user": USER},
    "pull_request": {"number": 7, "body": "PR\n\n" + pr_marker("01KB00000000000000000000AA"),
                     "head": {"ref": "aidlc/x", "sha": "a" * 40}},
    "repository": {"full_name": "acme/app"},
    "sender": USER,
}
REVIEW = {**{k: v for k, v in REVIEW_COMMENT.items() if k != "comment"}, "action": "submitted",
          "review": {"id": 12, "body": "Please change", "state": "changes_requested",
                     "submitted_at": "2026-12-02T07:00:00Z", "user": USER}}


@pytest.fixture
def fuzzed(aws_names):
    p = build_pipeline(aws_names, make_project(github_repo="acme/app"),
                       github_webhook_secret=aws_names["secrets"]["github-webhook-secret"])
    p.put_secret("github-webhook-secret", SECRET)
    with serving(p):
        yield p


def signed(event: str):
    return lambda body: (body, {"x-github-event": event, "x-github-delivery": str(uuid.uuid4()),
                                "x-hub-signature-256": hub_signature(body, SECRET)})


deliveries = st.one_of(
    st.builds(signed("pull_request_review_comment"), mutations(REVIEW_COMMENT)),
    st.builds(signed("pull_request_review"), mutations(REVIEW)),
    st.builds(signed("pull_request_review_comment"), hostile_bodies),
    # forged or missing signatures, odd headers
    st.builds(lambda b, v: (b, {"x-github-event": "pull_request_review_comment", "x-github-delivery": "d",
                                "x-hub-signature-256": v}), mutations(REVIEW_COMMENT), header_values),
    st.builds(lambda b, e, d: (b, {"x-github-event": e, "x-github-delivery": d,
                                   "x-hub-signature-256": hub_signature(b, SECRET)}),
              mutations(REVIEW_COMMENT), header_values, header_values),
    st.builds(lambda b: (b, {}), hostile_bodies),
)


@fuzz_settings(EXAMPLES)
@given(delivery=deliveries)
def test_no_malformed_github_delivery_gets_a_5xx_or_enqueues_anything(fuzzed, delivery):
    from runtime.handlers import github_webhook

    body, headers = delivery
    status, reply = fuzzed.http(github_webhook.handler, "POST", "/webhook/github", body=body, headers=headers)
    assert status < 500, (status, reply, body[:300], headers)
    if status >= 400:
        assert_refusal(reply)
    assert fuzzed.published == []
