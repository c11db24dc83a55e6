"""The local stack is wired with objects, not the process environment: two stacks run in one process, each with its
own state, each serving its own story end to end, each function with exactly its own derived environment."""

from __future__ import annotations

import os

import httpx
import pytest

from runtime import resources


# One pair of stacks for the module: starting and stopping two stacks takes 25-35 s on the 2-core CI machine, and both
# tests only add their own story to them (each checks its own page, its own invocation).
@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory):
    from runtime.local.stack import LocalStack, StackOptions

    tmp_path = tmp_path_factory.mktemp("two-stacks")

    def environment() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    before = environment()
    events: dict[str, list[str]] = {"one": [], "two": []}
    stacks = [LocalStack(StackOptions(port=0, state_dir=tmp_path / name, sweep_interval_seconds=3600,
                                      record_calls=True, trace_calls=name == "one", on_event=events[name].append))
              for name in ("one", "two")]
    for stack, name in zip(stacks, ("one", "two")):
        stack.test_events = events[name]
    try:
        for stack in stacks:
            stack.start()
        assert environment() == before  # starting a stack changes nothing in the process environment
        yield stacks
    finally:
        for stack in stacks:
            stack.stop()
    assert environment() == before


def test_two_stacks_in_one_process_each_serve_their_own_story(two_stacks):
    one, two = two_stacks
    assert one.info.api_base != two.info.api_base and one.aws.tables != two.aws.tables
    pages = {}
    for stack, title in ((one, "First stack's story"), (two, "Second stack's story")):
        pages[stack] = stack.user_notion().create_page(
            parent_data_source_id=stack.info.stories_data_source_id, title=title,
            properties={"Status": {"status": {"name": "Generate Code"}}})
    for stack in (one, two):
        done = stack.wait_for(lambda s=stack: [i for i in s.invocations_for_page(pages[s]["id"])
                                               if i["status"] in ("completed", "failed")], what="the code run")
        assert done[0]["status"] == "completed", done[0]
        # each stack sees its own run only, through its own front door
        listing = httpx.get(f"{stack.info.api_base}/project/{stack.project.project_id}/invocations").json()
        listed = {i["notion_page_id"] for i in listing["invocations"]}
        assert pages[stack]["id"] in listed and not listed & {page["id"] for s, page in pages.items() if s is not stack}

    for stack in (one, two):
        # each function got exactly its derived environment, pointing at its own stack's resources
        for name, local in stack.functions.items():
            assert local.environment == resources.function_environment(local.function, stack.physical_names())
        assert stack.functions["webhook"].environment[resources.TASKS.env_var] == stack.aws.queue_urls["tasks"]
        # and every AWS call is attributed to the principal that made it, in this stack's own record
        principals = stack.calls.principals()
        assert {"webhook", "orchestrator", "completion", "agent:code"} <= principals
        assert all(c.params.get("TableName", "").startswith(stack.aws.prefix) for c in stack.calls.calls
                   if "TableName" in c.params)
        from runtime.observe.calls import read_calls

        written = read_calls(stack.state_dir / "aws-calls.jsonl")
        assert {c["principal"] for c in written} == principals
        assert {"principal", "service", "operation", "params", "region", "ok", "error"} == set(written[0])


def test_trace_calls_logs_each_call_with_its_stage_and_invocation(two_stacks):
    """`aidlc dev --trace-calls` (stack one): every call in the log and in calls.jsonl, by stage and invocation; a
    stack started without it writes no trace."""
    import json

    one, two = two_stacks
    page = one.user_notion().create_page(parent_data_source_id=one.info.stories_data_source_id, title="Traced story",
                                         properties={"Status": {"status": {"name": "Generate Code"}}})
    done = one.wait_for(lambda: [i for i in one.invocations_for_page(page["id"]) if i["status"] == "completed"],
                        what="the code run")
    invocation_id = done[0]["invocation_id"]
    traced = [json.loads(line) for line in (one.state_dir / "calls.jsonl").read_text().splitlines()]
    mine = [c for c in traced if c["invocation_id"] == invocation_id]
    stages = {c["stage"] for c in mine}
    assert {"orchestrator", "agent", "completion"} <= stages, stages
    assert {"aws", "notion", "model"} <= {c["kind"] for c in mine}
    logged = [line for line in one.test_events if line.startswith("call ")]
    assert len(logged) >= len(traced) and any(invocation_id[:26] in line for line in logged)
    assert not (two.state_dir / "calls.jsonl").exists()
    assert not [line for line in two.test_events if line.startswith("call ")]
