"""Properties 15, 16 and 17 of seed 003 (the workflow orchestrator), on the real durable engine (the durable SDK's
local runner) and the workflows table under moto. Hypothesis' seed is configurable as for every property here
(`pytest --hypothesis-seed=N`)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.onboarding.models import StepStatus, WorkflowStatus
from runtime.onboarding.workflows.resilience import PermanentStepError, RetryPolicy, TransientStepError
from tests.onboarding.workflow_helpers import synthetic_engine


@pytest.fixture(scope="module")
def sx():
    # The in-memory store with the DynamoDB store's conditional writes (its DynamoDB twin is tested under moto in
    # test_workflow_state.py): an example costs only its durable checkpoints.
    with synthetic_engine(RetryPolicy(max_attempts=3), dynamodb=False) as engine:
        yield engine


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(steps=st.integers(min_value=1, max_value=4), data=st.data())
def test_property_15_state_persisted_before_the_workflow_continues(sx, steps, data):
    """Feature: agent-onboarding-provisioning, Property 15: Workflow State Persistence — for any workflow state
    change, the new state is persisted to the state store before the workflow continues.

    Each step's work, when it starts, reads the workflows table and finds the previous step's SUCCEEDED checkpoint
    there; a failure is recorded (status FAILED, the error's step) before the execution ends. A broken
    implementation that writes checkpoints after the durable step returns (or at the end of the workflow) makes
    `seen_before` False for some step, and one that does not record the failure leaves the status RUNNING."""
    fail_at = data.draw(st.none() | st.integers(min_value=0, max_value=steps - 1), label="fail_at")
    wid = sx.start(steps, {fail_at: ["permanent"]} if fail_at is not None else None)
    sx.wait(wid)
    record = sx.store.get(wid)
    reached = steps if fail_at is None else fail_at + 1
    assert all(sx.seen_before[(wid, f"step-{i}")] for i in range(reached))
    if fail_at is None:
        assert record.state.status == WorkflowStatus.SUCCEEDED
        assert record.state.completed_steps() == [f"step-{i}" for i in range(steps)]
    else:
        assert record.state.status == WorkflowStatus.FAILED
        assert record.state.error is not None and record.state.error.step == f"step-{fail_at}"
        assert record.checkpoint(f"step-{fail_at}").status == StepStatus.FAILED


@settings(max_examples=100, deadline=None)
@given(initial=st.integers(min_value=1, max_value=30), rate=st.floats(min_value=1.5, max_value=4.0),
       attempts=st.integers(min_value=2, max_value=10), cap=st.integers(min_value=30, max_value=3600))
def test_property_16_retry_delays_grow_exponentially(initial, rate, attempts, cap):
    """Feature: agent-onboarding-provisioning, Property 16: Retry with Exponential Backoff — for any transient
    failure, the operation is retried with exponentially increasing delays between attempts.

    The delays are those of the durable SDK's retry strategy our step configuration builds (`RetryPolicy.strategy`,
    the one every workflow step runs with): attempt n waits ceil(initial * rate^(n-1)), capped; each is longer than
    the one before until the cap; there are max_attempts - 1 of them; a permanent error is not retried. A broken
    policy (jitter left FULL, a constant or linear delay, retrying permanent errors) fails one of these."""
    policy = RetryPolicy(max_attempts=attempts, initial_delay_seconds=initial, max_delay_seconds=cap,
                         backoff_rate=rate)
    delays = policy.delays()
    assert len(delays) == attempts - 1
    import math

    assert delays == [min(max(1, math.ceil(min(initial * rate ** (n - 1), cap))), cap) for n in range(1, attempts)]
    for before, after in zip(delays, delays[1:]):
        assert after > before or after == cap
    strategy = policy.strategy()
    assert strategy(TransientStepError("throttled"), 1).should_retry
    assert not strategy(PermanentStepError("invalid"), 1).should_retry


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(steps=st.integers(min_value=2, max_value=4), data=st.data())
def test_property_17_resume_reruns_no_completed_step(sx, steps, data):
    """Feature: agent-onboarding-provisioning, Property 17: Checkpoint Recovery — for any workflow that fails after
    creating checkpoints, resuming it continues from the last successful checkpoint without re-executing
    completed steps.

    The workflow is killed at a random step (its work fails there, once or twice, so the resume may fail again and
    be resumed again); after the resumes it has succeeded, every step's work has succeeded exactly once, and no
    step before the kill ran again. A broken resume that ignores the stored checkpoints (re-running the flow from
    the top) counts two successes for the steps before the kill point; one that skips the failed step too never
    runs it, and its count is 0."""
    kill_at = data.draw(st.integers(min_value=0, max_value=steps - 1), label="kill_at")
    kills = data.draw(st.integers(min_value=1, max_value=2), label="kills")
    wid = sx.start(steps, {kill_at: ["permanent"] * kills})
    sx.wait(wid)
    for _ in range(kills):
        assert sx.store.get(wid).state.status == WorkflowStatus.FAILED
        sx.engine.resume(wid)
        sx.wait(wid)
    record = sx.store.get(wid)
    assert record.state.status == WorkflowStatus.SUCCEEDED
    assert all(sx.succeeded[(wid, f"step-{i}")] == 1 for i in range(steps))
    assert all(sx.runs[(wid, f"step-{i}")] == 1 for i in range(kill_at))
    assert sx.runs[(wid, f"step-{kill_at}")] == kills + 1
    assert len(record.executions) == kills + 1
