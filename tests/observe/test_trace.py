"""The call trace: calls land in the stage and invocation of the context they are made in."""

from __future__ import annotations

import contextvars
import threading

import boto3
import httpx
from moto import mock_aws

from runtime.observe.calls import CallRecorder
from runtime.observe.trace import CallTrace, bind_invocation, in_stage, note_model_call, notion_endpoint


def test_notion_endpoint_takes_ids_out():
    assert notion_endpoint("patch", "/v1/pages/1f3a2b4c-0000-4000-8000-0123456789ab") == "PATCH /v1/pages/{id}"
    assert notion_endpoint("GET", "/v1/blocks/1f3a2b4c00004000800001234567890a/children") == \
        "GET /v1/blocks/{id}/children"
    assert notion_endpoint("GET", "/v1/users/me") == "GET /v1/users/me"


def test_stage_and_invocation_are_restored_on_the_way_out():
    trace = CallTrace()

    def calls() -> None:
        with trace.recording():
            with in_stage("completion"), bind_invocation("inv-1"):
                note_model_call("m")
                with in_stage("write-back"):
                    note_model_call("m")
                note_model_call("m")
            note_model_call("m")  # outside any stage

    # A fresh context: an earlier test in this process may have bound an invocation outside any stage.
    contextvars.Context().run(calls)
    stages = [(c.stage, c.invocation_id) for c in trace.calls]
    assert stages == [("completion", "inv-1"), ("write-back", "inv-1"), ("completion", "inv-1"), (None, None)]
    assert trace.per_stage() == {"completion": 2, "write-back": 1}


def test_a_binding_outside_any_stage_does_not_leak_into_the_next_invocation():
    """A Lambda handler's thread (and its context) serves the next invocation too, with no `in_stage` around it:
    the services' binding must end with the work it was made for."""
    from runtime.observe.trace import current_invocation

    trace = CallTrace()

    def two_invocations() -> None:
        with trace.recording():
            with bind_invocation("inv-a"):
                note_model_call("m")
                with bind_invocation(None):  # None keeps the invocation bound so far
                    note_model_call("m")
            note_model_call("m")  # the next invocation, before it binds its own id
            with bind_invocation("inv-b"):
                note_model_call("m")
        assert current_invocation() is None

    contextvars.Context().run(two_invocations)
    assert [c.invocation_id for c in trace.calls] == ["inv-a", "inv-a", None, "inv-b"]


def test_a_thread_starts_outside_any_stage():
    trace = CallTrace()
    with trace.recording(), in_stage("webhook", "inv-2"):
        worker = threading.Thread(target=note_model_call, args=("m",))
        worker.start()
        worker.join()
    assert [(c.stage, c.invocation_id) for c in trace.calls] == [(None, None)]


def test_aws_and_notion_calls_are_counted_where_they_are_made():
    recorder = CallRecorder()
    trace = CallTrace()
    with mock_aws(), trace.recording(recorder):
        session = recorder.attach(boto3.session.Session(region_name="us-east-1"), "orchestrator")
        sqs = session.client("sqs", aws_access_key_id="x", aws_secret_access_key="x")
        with in_stage("orchestrator", "inv-3"):
            sqs.create_queue(QueueName="q")
        sqs.list_queues()
    # the Notion side: the adapter's request hook, fed a request as notion-client's transport would
    from runtime.notion.adapter import _notify_observers

    with trace.recording(), in_stage("write-back", "inv-3"):
        _notify_observers(httpx.Request("PATCH", "http://notion/v1/pages/1f3a2b4c-0000-4000-8000-0123456789ab"))
    assert trace.what() == {"aws sqs.CreateQueue": 1, "notion PATCH /v1/pages/{id}": 1}
    assert trace.per_invocation() == {"inv-3": 2}
    assert [c.stage for c in trace.calls] == ["orchestrator", None, "write-back"]


def test_stopped_trace_sees_nothing():
    trace = CallTrace()
    with trace.recording():
        pass
    note_model_call("m")
    assert trace.calls == []
