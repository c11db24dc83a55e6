"""A fuzz of bad Slack requests: unsigned, badly signed, stale, oversized, and signed-but-malformed bodies of every
kind. None may be a 5xx, and none may enqueue a run or post to Slack."""

from __future__ import annotations

import json
import random
import string
from urllib.parse import urlencode

from runtime.local.slack_emulator import sign
from tests.slack.conftest import SECRET

KINDS = ("events", "commands", "interactivity")


def _junk(rng: random.Random) -> bytes:
    choice = rng.randrange(12)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    if choice == 1:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 200))).encode()
    if choice == 2:
        return json.dumps(rng.choice([[], None, 1, "x", {"type": None}, {"type": "event_callback", "event": []},
                                      {"type": "event_callback", "event": {"type": "app_mention"}, "event_id": 5},
                                      {"type": "url_verification", "challenge": 7}])).encode()
    if choice == 3:
        return urlencode({"payload": rng.choice(["", "[]", "{", json.dumps({"type": "block_actions"}),
                                                 json.dumps({"type": "block_actions", "actions": [{}], "user": {}}),
                                                 json.dumps({"type": "block_actions", "user": {"id": "U1"},
                                                             "actions": [{"action_id": "aidlc_approve",
                                                                          "value": "{]"}]})])}).encode()
    if choice == 4:
        fields = {k: rng.choice(["", "x", "/aidlc", "%ZZ"]) for k in
                  rng.sample(["command", "text", "user_id", "channel_id", "trigger_id"], rng.randrange(0, 5))}
        return urlencode(fields).encode()
    if choice == 5:
        return b"&&==&" * rng.randrange(1, 50)
    if choice == 6:
        return b"x" * (256 * 1024 + rng.randrange(1, 1000))
    if choice == 7:
        return json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {
            "type": "app_mention", "text": rng.choice(["", "run", "run mock", "run mock notaurl", "status x"]),
            "channel": rng.choice(["", None, 3]), "user": rng.choice(["", None, []])}}).encode()
    if choice == 8:
        return urlencode({"command": "/aidlc", "user_id": "U0PRIYA001", "channel_id": "C0AIDLC001",
                          "trigger_id": "".join(rng.choices(string.ascii_letters, k=8)),
                          "text": rng.choice(["run mock https://example.com/x", "run nope https://www.notion.so/x-"
                                              + "a" * 32, "status", "cancel 123", "\x00\x01", "run mock <@U1>"])}).encode()
    if choice == 9:
        return "é".encode("latin-1") * rng.randrange(1, 20)
    if choice == 10:
        return json.dumps({"type": "event_callback", "event_id": "Ev2", "event": {"type": "message",
                                                                                  "bot_id": "B0X", "text": "hi"}}).encode()
    return urlencode({"payload": json.dumps({"type": "view_submission"})}).encode()


def _headers(rng: random.Random, body: bytes, now: float) -> dict:
    choice = rng.randrange(7)
    try:
        good = sign(SECRET, body, int(now))
    except UnicodeDecodeError:
        good = {"X-Slack-Request-Timestamp": str(int(now)), "X-Slack-Signature": "v0=" + "0" * 64}
    if choice == 0:
        return {}
    if choice == 1:
        return {**good, "X-Slack-Signature": "v0=" + "".join(rng.choices("0123456789abcdef", k=64))}
    if choice == 2:
        return {**sign("other-secret", b"", int(now)), "X-Slack-Signature": good["X-Slack-Signature"][:-1] + "0"}
    if choice == 3:
        return {**good, "X-Slack-Request-Timestamp": rng.choice(["", "abc", "-5", "1e9", "9" * 30, " 1"])}
    if choice == 4:
        try:
            return sign(SECRET, body, int(now) - rng.randrange(301, 10**6))
        except UnicodeDecodeError:
            return good
    return good  # signed: the body itself is the bad part


def test_a_thousand_bad_requests_no_5xx_nothing_enqueued(door):
    rng = random.Random(20261201)
    statuses: dict[int, int] = {}
    posts_before = len([c for c in door.slack.calls if c[0] == "chat.postMessage"])
    for _ in range(1200):
        kind = rng.choice(KINDS)
        body = _junk(rng)
        reply = door.ingress.handle(kind, body, _headers(rng, body, door.clock[0]))
        assert reply.status < 500, (kind, body[:200], reply.body)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
    assert door.queue.messages == []
    # Some answers are refusals of each kind, so the fuzz really reached signature, size and shape checks.
    assert {401, 400, 413} <= set(statuses), statuses
    posted = [c for c in door.slack.calls[posts_before:] if c[0] == "chat.postMessage"]
    assert not [c for c in posted if "started `" in c[1].get("text", "")]  # no workflow thread was opened
