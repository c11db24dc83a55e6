"""The AgentCore Memory stand-in (runtime/local/agentcore_memory.py), spoken to by the real boto3 `bedrock-agentcore`
client and by `bedrock_agentcore.memory`: requests and answers checked against botocore's service model, invalid
requests refused as the service refuses them, and the stand-in's simple long-term extraction."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import given, settings, strategies as st

from runtime.local.agentcore_memory import (MemoryConfig, MemoryStandIn, StrategyConfig, new_memory_id, service_model,
                                            validate)
from runtime.local.server import serve

MEMORY = MemoryConfig(new_memory_id("aidlc_code_memory"),
                      (StrategyConfig("review_feedback", "/projects/{actorId}/review_feedback", "review_feedback"),))
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def standin():
    stand_in = MemoryStandIn([MEMORY])
    server = serve(stand_in.app)
    yield stand_in, server.base_url
    server.stop()


@pytest.fixture(scope="module")
def client(standin):
    # client-side validation off, so what reaches the stand-in is what a careless (or another) client would send
    return boto3.client("bedrock-agentcore", endpoint_url=standin[1], region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def conversational(text: str, role: str = "USER") -> dict:
    return {"conversational": {"content": {"text": text}, "role": role}}


def test_events_round_trip_newest_first_and_paginate(client):
    for i in range(3):
        client.create_event(memoryId=MEMORY.memory_id, actorId="proj-1", sessionId="s-round-trip",
                            eventTimestamp=NOW.replace(minute=i), payload=[conversational(f"turn {i}")])
    first = client.list_events(memoryId=MEMORY.memory_id, actorId="proj-1", sessionId="s-round-trip", maxResults=2)
    assert [e["payload"][0]["conversational"]["content"]["text"] for e in first["events"]] == ["turn 2", "turn 1"]
    assert first["events"][0]["eventTimestamp"] == NOW.replace(minute=2)  # parsed by botocore as a timestamp
    rest = client.list_events(memoryId=MEMORY.memory_id, actorId="proj-1", sessionId="s-round-trip", maxResults=2,
                              nextToken=first["nextToken"])
    assert [e["payload"][0]["conversational"]["content"]["text"] for e in rest["events"]] == ["turn 0"]
    assert "nextToken" not in rest
    other = client.list_events(memoryId=MEMORY.memory_id, actorId="proj-2", sessionId="s-round-trip")
    assert other["events"] == []  # another project's session is another actor's


def test_tagged_events_become_records_in_the_strategy_namespace_untagged_do_not(client):
    client.create_event(memoryId=MEMORY.memory_id, actorId="proj-x", sessionId="s1", eventTimestamp=NOW,
                        payload=[conversational("plain turn")])
    for _ in range(2):  # the same feedback twice is kept once
        client.create_event(memoryId=MEMORY.memory_id, actorId="proj-x", sessionId="s1", eventTimestamp=NOW,
                            payload=[conversational("Put source files under `src/`.")],
                            metadata={"aidlc:strategy": {"stringValue": "review_feedback"}})
    client.create_event(memoryId=MEMORY.memory_id, actorId="proj-x", sessionId="s1", eventTimestamp=NOW,
                        payload=[conversational("Tagged for a strategy this memory lacks")],
                        metadata={"aidlc:strategy": {"stringValue": "nope"}})
    found = client.retrieve_memory_records(memoryId=MEMORY.memory_id, namespace="/projects/proj-x/review_feedback",
                                           searchCriteria={"searchQuery": "where do source files go", "topK": 5})
    texts = [r["content"]["text"] for r in found["memoryRecordSummaries"]]
    assert texts == ["Put source files under `src/`."]
    assert found["memoryRecordSummaries"][0]["memoryStrategyId"] == "review_feedback"
    assert client.retrieve_memory_records(memoryId=MEMORY.memory_id, namespace="/projects/proj-y/review_feedback",
                                          searchCriteria={"searchQuery": "src"})["memoryRecordSummaries"] == []
    listed = client.list_memory_records(memoryId=MEMORY.memory_id, namespacePath="/projects/proj-x")
    assert [r["content"]["text"] for r in listed["memoryRecordSummaries"]] == texts


def error_of(call, **params) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return raised.value.response


def test_requests_the_model_calls_invalid_are_refused_with_the_field_named(client, standin):
    before = len(standin[0].events.get(MEMORY.memory_id, []))
    # eventTimestamp and payload are required members of CreateEventInput
    response = error_of(client.create_event, memoryId=MEMORY.memory_id, actorId="proj-1")
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert {f["name"] for f in response["fieldList"]} == {"eventTimestamp", "payload"}
    assert response["reason"] == "FieldValidationFailed"
    # an unknown member is refused, not ignored (boto3 cannot send one: raw HTTP, as another client might)
    raw = httpx.post(f"{standin[1]}/memories/{MEMORY.memory_id}/events",
                     json={"actorId": "proj-1", "eventTimestamp": 1.7e9, "payload": [conversational("x")],
                           "mood": "happy"})
    assert raw.status_code == 400 and raw.headers["x-amzn-ErrorType"] == "ValidationException"
    assert [f["name"] for f in raw.json()["fieldList"]] == ["mood"]
    raw = httpx.post(f"{standin[1]}/memories/{MEMORY.memory_id}/events", content=b"{not json")
    assert raw.status_code == 400 and raw.json()["reason"] == "CannotParse"
    # the Role enum, the SessionId pattern, the MaxResults range
    response = error_of(client.create_event, memoryId=MEMORY.memory_id, actorId="proj-1", sessionId="has space",
                        eventTimestamp=NOW, payload=[conversational("x", role="ROBOT")])
    assert {f["name"] for f in response["fieldList"]} == {"sessionId", "payload[0].conversational.role"}
    response = error_of(client.list_events, memoryId=MEMORY.memory_id, actorId="proj-1", sessionId="s", maxResults=101)
    assert [f["name"] for f in response["fieldList"]] == ["maxResults"]
    # a union with two members set
    response = error_of(client.create_event, memoryId=MEMORY.memory_id, actorId="proj-1", eventTimestamp=NOW,
                        payload=[{**conversational("x"), "blob": {"a": 1}}])
    assert [f["name"] for f in response["fieldList"]] == ["payload[0]"]
    assert len(standin[0].events.get(MEMORY.memory_id, [])) == before  # nothing half-written


def test_an_unknown_memory_is_not_found_and_an_unserved_operation_says_so(client):
    response = error_of(client.list_events, memoryId=new_memory_id("someone_else"), actorId="a", sessionId="s")
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    response = error_of(client.get_event, memoryId=MEMORY.memory_id, actorId="a", sessionId="s", eventId="1#ab")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_real_client_with_validation_on_agrees_with_the_stand_in(standin):
    """What botocore refuses before sending (a missing required member), the stand-in refuses too: the two read
    the same model."""
    strict = boto3.client("bedrock-agentcore", endpoint_url=standin[1], region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        strict.create_event(memoryId=MEMORY.memory_id, actorId="proj-1", payload=[])


_text = st.text(alphabet=st.characters(codec="ascii"), max_size=12)
_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 200) | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=10)


PROPERTY_STAND_IN = MemoryStandIn([MEMORY])  # one for every example: the property holds whatever it stored before
VALID_EVENT = {"memoryId": MEMORY.memory_id, "actorId": "proj-1", "sessionId": "s-prop", "eventTimestamp": 1.5e9,
               "payload": [conversational("hello")], "metadata": {"aidlc:strategy": {"stringValue": "review_feedback"}}}


@settings(max_examples=100, deadline=None)
@given(overrides=st.dictionaries(st.sampled_from([*VALID_EVENT, "branch", "extra"]), _json, max_size=3),
       dropped=st.sets(st.sampled_from(list(VALID_EVENT)), max_size=2))
def test_property_any_request_is_refused_with_named_fields_or_stored_and_answered_validly(overrides, dropped):
    """Property: a CreateEvent request made from a valid one with some members replaced by arbitrary JSON or dropped
    is either refused with named field errors (the validator never raises) or stored and answered with a valid
    CreateEventOutput. A validator that missed a rule the stand-in relies on (a required member, a member's type, a
    union) would let through a request the stand-in then fails on: a KeyError/TypeError, or its own 500 for an
    answer that breaks the model; either fails this test."""
    from runtime.local.agentcore_memory import ServiceError

    params = {k: v for k, v in {**VALID_EVENT, **overrides}.items() if k not in dropped}
    errors = validate(service_model().operation_model("CreateEvent").input_shape, params)
    assert all(isinstance(name, str) and message for name, message in errors)
    before = len(PROPERTY_STAND_IN.events.get(MEMORY.memory_id, []))
    try:
        response = PROPERTY_STAND_IN.call("CreateEvent", params)
    except ServiceError as exc:
        assert exc.status in (400, 404), exc.message
        assert errors or exc.code == "ResourceNotFoundException" or exc.status == 400
        return
    assert not errors and response.status_code == 201
    assert len(PROPERTY_STAND_IN.events[MEMORY.memory_id]) == before + 1
