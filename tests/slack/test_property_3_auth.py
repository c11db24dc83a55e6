"""Seed 003 property 3, on the real Slack ingress: a request is accepted if and only if it carries a valid
signature (Slack's documented `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing secret, computed here by
hand rather than with slack_sdk, so the check is against Slack's wire format) inside the 5-minute window; anything
else is a 401 with the INVALID_WEBHOOK error shape, and nothing is answered.

Shown to fail: with `_verify` in runtime/slack/ingress.py returning None before the HMAC check (every signature
accepted), the examples signed with another secret or with a flipped signature character are answered 200."""

from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.slack.conftest import SECRET

HEX = "0123456789abcdef"


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


# `door` is function-scoped, but each example is a url_verification request: it changes no state of the door, so
# sharing one door across the examples of a test is sound.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    challenge=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60),
    right_secret=st.booleans(),
    other_secret=st.text(alphabet=HEX, min_size=8, max_size=40).filter(lambda s: s != SECRET),
    offset=st.integers(min_value=-900, max_value=900),
    flip=st.one_of(st.none(), st.integers(min_value=3, max_value=66)),
)
def test_property_3_a_request_is_accepted_iff_its_signature_is_valid(door, challenge, right_secret, other_secret,
                                                                     offset, flip):
    """Feature: agent-onboarding-provisioning, Property 3: Authentication Token Validation — for any authentication
    attempt, the Slack integration succeeds if and only if a valid token is provided, and fails with an appropriate
    error for invalid tokens."""
    body = json.dumps({"token": "x", "type": "url_verification", "challenge": challenge}).encode()
    timestamp = str(int(door.clock[0]) + offset)
    signature = _signature(SECRET if right_secret else other_secret, timestamp, body)
    if flip is not None:  # one hex digit of the digest changed
        digit = signature[flip]
        signature = signature[:flip] + HEX[(HEX.index(digit) + 1) % 16] + signature[flip + 1:]
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": signature}

    reply = door.ingress.handle("events", body, headers)

    valid = right_secret and flip is None and abs(offset) <= 300
    if valid:
        assert reply.status == 200 and reply.body == {"challenge": challenge}
    else:
        assert reply.status == 401, (reply.status, reply.body)
        assert reply.body["error"]["code"] == "INVALID_WEBHOOK" and reply.body["error"]["message"]
        assert "challenge" not in reply.body
