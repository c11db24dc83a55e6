"""Agent memory (runtime/agent/memory.py): read at the start of a run, written at its end, through
`bedrock_agentcore.memory` over the real boto3 `bedrock-agentcore` client at the loopback stand-in; the code agent's
second run on a project follows a convention its first run's review taught it."""

from __future__ import annotations

import pytest

from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.memory import AgentCoreMemory, actor_id, memory_prompt, session_key
from runtime.agent.runner import RunOptions, run_agent, task_prompt
from runtime.agent.settings import AgentSettings
from runtime.aws_clients import AwsClients
from runtime.models import AgentProjectSettings, AgentRequest, new_ulid
from runtime.observe.calls import CallRecorder
from runtime.plugins import AgentSpec, Limits, MemoryStrategy, RunMemory
from runtime.registry import get_registry
from runtime.tools.audit import MemoryAuditSink

from tests.agent.conftest import make_request
from tests.conftest import seeded_notion

REVIEW_COMMENT = "Please put source files under `src/`, not `features/`: that is where this repository keeps code."


@pytest.fixture
def memory_env(tmp_path):
    """The memory stand-in (one memory per uses_memory agent), the Notion emulator, a local git remote, and the
    code agent's in-process tools over them."""
    from runtime.github.local import LocalGitBackend
    from runtime.local.agentcore_memory import MemoryStandIn, memory_configs
    from runtime.local.server import serve
    from runtime.policy import ToolPolicy
    from runtime.tools.base import ToolServices

    registry = get_registry()
    configs = memory_configs(registry.get(name) for name in registry.agents)
    stand_in = MemoryStandIn(list(configs.values()), tmp_path / "memory.json")
    memory_server = serve(stand_in.app)
    recorder = CallRecorder()

    def memory_for(agent: str) -> AgentCoreMemory:
        clients = AwsClients(f"agent:{agent}", recorder=recorder, endpoint_url=memory_server.base_url,
                             region="us-east-1", credentials=("local", "local"))
        return AgentCoreMemory(configs[agent].memory_id, clients=clients, region="us-east-1")

    try:
        with seeded_notion(tmp_path / "notion") as workspace:
            git = LocalGitBackend(tmp_path / "remote.git")
            services = ToolServices(notion=workspace.notion, github=git, policy=ToolPolicy.load())
            yield type("Env", (), dict(stand_in=stand_in, configs=configs, seed=workspace.seed, notion=workspace.notion,
                                       git=git, services=services, registry=registry, memory_for=memory_for,
                                       recorder=recorder, url=memory_server.base_url))
    finally:
        memory_server.stop()


def code_request(env, project_id: str = "proj-1") -> AgentRequest:
    page_id = env.seed.story_page_ids[0]
    return AgentRequest(
        invocation_id=new_ulid(), session_id="session-" + new_ulid(), agent_type="code", project_id=project_id,
        notion_page_id=page_id, story=env.notion.page_snapshot(page_id),
        project=AgentProjectSettings(project_id=project_id, github_repo="local/app",
                                     stories_data_source_id=env.seed.stories_data_source_id))


def run_code(env, request: AgentRequest, memory: AgentCoreMemory):
    from runtime.agent.tools import registry_tools
    from runtime.tools.base import ToolContext
    from runtime.tools.registry import ToolRegistry

    spec = env.registry.get("code")
    context = ToolContext(agent_type="code", invocation_id=request.invocation_id, allowed_tools=spec.tools,
                          services=env.services)
    event = run_agent(request, settings=AgentSettings(model_provider="offline", region="us-east-1"),
                      sink=MemoryCompletionSink(),
                      options=RunOptions(tools=registry_tools(ToolRegistry.default(), context, spec.tools),
                                         audit=MemoryAuditSink(), registry=env.registry, memory=memory))
    assert event.status == "completed", f"{event.error_code}: {event.error_detail}"
    [pr] = event.artifacts
    return event, env.git.read_pull_request(pr.metadata.pr_number)


def test_the_code_agents_second_run_follows_the_convention_its_first_runs_review_taught_it(memory_env):
    # Over 10 s (~25 s on 2 loaded cores): two full code-agent runs, each running the branch's tests in the
    # bubblewrap sandbox (sandbox_run) before opening its pull request; the convention must survive that real path.
    env = memory_env
    memory = env.memory_for("code")
    spec = env.registry.get("code")

    first_request = code_request(env)
    _, first = run_code(env, first_request, memory)
    assert any(path.startswith("features/") for path in first["files"])
    assert not any(path.startswith("src/") for path in first["files"])

    # The reviewer's comment on run 1's pull request; the code agent's memory keeps it as review feedback.
    env.git.comment_pull_request(first["number"], REVIEW_COMMENT)
    memory.remember(spec, first_request.project_id, "review_feedback", [REVIEW_COMMENT],
                    session_id=first_request.session_id)

    # Run 2, same project, another session: it reads the feedback at its start and commits under src/.
    second_request = code_request(env)
    remembered = memory.recall(spec, second_request)
    assert remembered.records("review_feedback") == [REVIEW_COMMENT]
    assert remembered.session == []  # short-term memory is per session: run 1's turns are not run 2's
    _, second = run_code(env, second_request, memory)
    sources = [path for path in second["files"] if not path.startswith("tests/")]
    assert sources and all(path.startswith("src/") for path in sources), second["files"]
    assert "from src." in env.git.read_file(next(p for p in second["files"] if p.startswith("tests/")),
                                            second["branch"])["content"]

    # Another project never sees this project's feedback.
    assert memory.recall(spec, code_request(env, project_id="proj-2")).records("review_feedback") == []

    # Each run wrote its turn (prompt and summary) to its own session, through CreateEvent at the stand-in.
    events = env.stand_in.events[env.configs["code"].memory_id]
    assert {session_key(r.session_id) for r in (first_request, second_request)} <= {e["sessionId"] for e in events}
    assert {e["actorId"] for e in events} == {actor_id("proj-1")}
    turn = next(e for e in events if e["sessionId"] == session_key(second_request.session_id)
                and len(e["payload"]) == 2)
    assert [p["conversational"]["role"] for p in turn["payload"]] == ["USER", "ASSISTANT"]
    assert REVIEW_COMMENT in turn["payload"][0]["conversational"]["content"]["text"]  # the prompt showed it

    # The calls the agent's memory made are the ones its runtime role allows (components/iam.py MEMORY_USE).
    from components.iam import MEMORY_USE

    operations = {f"bedrock-agentcore:{c.operation}" for c in env.recorder.calls}
    assert operations == set(MEMORY_USE)
    assert all(c.ok for c in env.recorder.calls), [c for c in env.recorder.calls if not c.ok]


def test_the_calls_memory_makes_are_allowed_by_the_deployed_role(memory_env):
    """IAM coverage: every data-plane call a memory-using agent makes is allowed by its runtime role in the dev
    stack (components/iam_coverage.py maps the memory id to that agent's memory ARN). Over 10 s alone: the dev
    stack's Pulumi program runs once under mocks (cached for the process, shared with the other coverage tests)."""
    from tests.infra.coverage import assert_calls_allowed

    env = memory_env
    for agent in env.configs:
        spec = env.registry.get(agent)
        request = make_request(agent)
        memory = env.memory_for(agent)
        memory.recall(spec, request)
        memory.record(spec, request, prompt="the task", summary="what was done")
    assert_calls_allowed(env.recorder.calls)


def test_a_run_summary_strategy_learns_from_each_run_and_the_prompt_shows_it(memory_env):
    env = memory_env
    spec = env.registry.get("insight")
    memory = env.memory_for("insight")
    request = make_request("insight")
    memory.record(spec, request, prompt="synthesise the feedback", summary="Users want CSV exports weekly.")
    later = memory.recall(spec, make_request("insight"))
    assert later.records("findings") == ["Users want CSV exports weekly."]
    prompt = task_prompt(request, memory_prompt(later, spec))
    assert "## findings:" in prompt and "Users want CSV exports weekly." in prompt
    assert memory_prompt(RunMemory(), spec) == ""


def remembering_script(request, memory=None):
    """An offline script that only reports what it was given to remember."""
    return f"remembered {len(memory.records('review_feedback'))} review notes" if memory is not None else "no memory"
    yield  # a generator, as offline scripts are


def run_remembering(env, memory) -> str:
    spec = env.registry.get("code").model_copy(update={"offline": remembering_script})
    event = run_agent(make_request("code"), spec=spec, settings=AgentSettings(model_provider="offline"),
                      sink=MemoryCompletionSink(), options=RunOptions(tools=[], audit=MemoryAuditSink(),
                                                                       registry=env.registry, memory=memory))
    assert event.status == "completed", event.error_detail
    return event.summary


def test_an_offline_script_taking_memory_gets_it_and_a_failing_memory_never_fails_the_run(memory_env):
    """A script with a `memory` parameter is given the run's memory. A memory the runtime cannot reach (here: a
    memory id the stand-in does not know, ResourceNotFound) is logged and the run completes without it."""
    env = memory_env
    memory = env.memory_for("code")
    memory.remember(env.registry.get("code"), "proj-1", "review_feedback", ["Name tests after behaviour."],
                    session_id="s-1")
    assert run_remembering(env, memory) == "remembered 1 review notes"
    broken = AgentCoreMemory("aidlc_code_memory-0000000000", region="us-east-1", clients=AwsClients(
        "agent:code", endpoint_url=env.url, region="us-east-1", credentials=("local", "local")))
    assert run_remembering(env, broken) == "remembered 0 review notes"


def test_strategy_declarations_are_checked():
    with pytest.raises(ValueError, match="uses_memory"):
        AgentSpec(name="x", description="d", triggers=["T"], tools=["notion_read_page"], outputs=["notion_page"],
                  completion_status="Done", memory_strategies=[MemoryStrategy(name="a", description="d")])
    with pytest.raises(ValueError, match="one strategy of each type"):
        AgentSpec(name="x", description="d", triggers=["T"], tools=["notion_read_page"], outputs=["notion_page"],
                  completion_status="Done", limits=Limits(uses_memory=True),
                  memory_strategies=[MemoryStrategy(name="a", description="d"),
                                     MemoryStrategy(name="b", description="d")])
    with pytest.raises(ValueError):
        MemoryStrategy(name="Bad-Name", description="d")
    assert MemoryStrategy(name="a", description="d").namespace("proj-1") == "/projects/proj-1/a"
    with pytest.raises(ValueError, match="no memory strategy"):
        AgentCoreMemory("aidlc_code_memory-0000000000").remember(
            get_registry().get("code"), "proj-1", "nope", ["x"], session_id="s")
