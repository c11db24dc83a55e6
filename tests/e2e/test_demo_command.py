"""The README's main job, `aidlc demo`, run as a person runs it: a fresh process, to the end, exit 0."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# Over 30 s on purpose (about 45 s on the 2-core CI machine, 20 s of it CPU): the whole `aidlc demo` in its own
# process: the local stack started and stopped, and three agents run to the end with every Notion request paced at
# Notion's 3 a second (runtime/notion/throttle.py), which is the wait a person sees.
@pytest.mark.slow
def test_demo_runs_the_chain_and_prints_working_artifacts():
    result = subprocess.run(
        [sys.executable, "-c", "from runtime.cli import main; main()", "demo", "--timeout", "240"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    for agent, artifact in (("mock", "prototype"), ("demo_deck", "notion_page"), ("demo_deck", "notion_database"),
                            ("code", "pull_request")):
        assert re.search(rf"{agent}\s+{artifact}\s+http://127\.0\.0\.1:\d+/", output), f"{agent} {artifact}\n{output}"
    assert re.search(r"month to date \$0\.\d{4} of \$\d+", output)
    assert "story status in Notion: Code Generated" in output
