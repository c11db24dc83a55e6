"""The A/B test agent: variant prototypes of one story; a demo deck follows for each variant."""

from agent_plugins.mock import TOOLS, check_sentence, upload_prototype  # the mock agent's page, one per variant
from runtime.plugins import AgentSpec, ChainRule, Limits, ToolCall, hookimpl

VARIANTS = ("A", "B")


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    urls, checks = [], []
    for variant in VARIANTS:
        upload = yield from upload_prototype(request, variant)
        urls.append(f"{variant}: {upload['url']}")
        checks.append(f"Variant {variant}: {check_sentence(upload)}")
    return (f"{len(VARIANTS)} prototype variants for '{request.story.title}': " + "; ".join(urls) + ". "
            + " ".join(checks))


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="a_b_test",
            description="Builds variant prototypes of a story for A/B testing, each with its own demo deck.",
            triggers=["Generate A/B Variants"],
            tools=TOOLS,
            outputs=["prototype"],
            completion_status="Variants Ready",
            chains=[ChainRule(to="demo_deck", template="story-to-mock-to-deck", for_each="prototype")],
            limits=Limits(max_tokens=300_000, timeout_seconds=3600),
            offline=offline,
        )
    ]
