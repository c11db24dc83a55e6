"""How the Pulumi program's cost grows with the number of agent plugins, and how big each code bundle is.

    .venv/bin/python bench/bench_infra_program.py

1. Baseline: a fresh interpreter importing the pulumi_aws modules the program uses (median of 3 runs); and a
   second: as many bare resources as the program registers, under the same mocks (Pulumi's own cost per resource).
2. The real `__main__.py` under Pulumi mocks with 7 (built-in), 20 and 50 agent plugins (extra plugins are
   generated into a temporary folder, as a plugin author would drop them in): wall time, resources registered,
   and both as ratios (time against the import baseline; resources per agent).
3. Bundle sizes per function: the project's own code plus the declared requirement set and its dependencies,
   measured from this virtualenv's installed files (no network, so not the manylinux wheels themselves: sizes
   are indicative, within the difference between this platform's and manylinux's builds).
Loopback/no network; bounded loops.
"""

from __future__ import annotations

import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

IMPORTS = ("import pulumi, pulumi_aws.apigatewayv2, pulumi_aws.bedrock, pulumi_aws.cloudfront, pulumi_aws.cloudwatch, "
           "pulumi_aws.dynamodb, pulumi_aws.iam, pulumi_aws.lambda_, pulumi_aws.s3, pulumi_aws.secretsmanager, "
           "pulumi_aws.sns, pulumi_aws.sqs")

PLUGIN_TEMPLATE = '''
from pathlib import Path
from runtime.plugins import AgentSpec, hookimpl


@hookimpl
def register_agents():
    return [AgentSpec(
        name="bench_{index:02d}",
        description="Benchmark agent {index}.",
        triggers=["Bench {index}"],
        prompt_file=Path(__file__).with_name("prompt.md"),
        tools=["notion_read_page", "notion_create_page"],
        outputs=["notion_page"],
        completion_status="Bench {index} Done",
    )]
'''


def import_baseline(runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORTS], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def program_run(extra_agents: int) -> tuple[float, int, int]:
    from components.mockrun import run_main
    from runtime.registry import get_registry, reset_registry
    from runtime.stack_config import SECRET_KEYS, pulumi_config_map

    with tempfile.TemporaryDirectory() as folder:
        if extra_agents:
            (Path(folder) / "prompt.md").write_text("You are a benchmark agent.")
            for index in range(extra_agents):
                (Path(folder) / f"bench_{index:02d}.py").write_text(PLUGIN_TEMPLATE.format(index=index))
            os.environ["AIDLC_PLUGIN_DIRS"] = folder
        else:
            os.environ.pop("AIDLC_PLUGIN_DIRS", None)
        reset_registry()
        agents = len(get_registry().agents)
        start = time.perf_counter()
        recording = run_main(ROOT, pulumi_config_map("dev", ROOT), secrets={k: "bench" for k in SECRET_KEYS})
        elapsed = time.perf_counter() - start
        reset_registry()
    os.environ.pop("AIDLC_PLUGIN_DIRS", None)
    return elapsed, len(recording.resources), agents


def bare_resources_run(count: int) -> float:
    """The same number of resources as a bare program under the same mocks: what Pulumi's engine itself costs per
    resource (registration, stack traces, output plumbing), so the program's own overhead reads as a ratio."""
    import pulumi_aws as aws

    from components.mockrun import run_program

    def program() -> None:
        for index in range(count):
            aws.sqs.Queue(f"bare-{index}", tags={"aidlc:bench": "bare"})

    start = time.perf_counter()
    run_program(program)
    return time.perf_counter() - start


def installed_size(requirements: tuple[str, ...]) -> tuple[int, int]:
    """Bytes and distribution count of the requirement set and everything it depends on, in this venv."""
    seen: set[str] = set()
    pending = [r.split("==")[0] for r in requirements]
    total = 0
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if file.parts[0] != ".." and path.is_file() and "__pycache__" not in file.parts:
                total += path.stat().st_size
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            dep = requirement.split(";")[0].strip()
            for sep in "<>=!~[ (":
                dep = dep.split(sep)[0]
            if dep:
                pending.append(dep)
    return total, len(seen)


def main() -> None:
    from components import packaging

    print("== Pulumi program under mocks: cost against the number of agent plugins")
    baseline = import_baseline()
    print(f"baseline: fresh interpreter importing the pulumi_aws modules used: {baseline * 1000:.0f} ms (median of 3)")
    program_run(0)  # warm-up: first run pays pulumi_aws and registry imports in this process
    print(f"{'agents':>6} {'resources':>9} {'per agent':>9} {'build ms':>9} {'x import':>8}")
    rows = []
    for extra in (0, 13, 43):
        elapsed, resources, agents = program_run(extra)
        rows.append((agents, resources, elapsed))
        print(f"{agents:>6} {resources:>9} {resources / agents:>9.1f} {elapsed * 1000:>9.0f} {elapsed / baseline:>8.2f}")
    (a0, r0, t0), (a1, r1, t1) = rows[0], rows[-1]
    bare = statistics.median(bare_resources_run(r0) for _ in range(3))
    print(f"baseline 2: {r0} bare resources (sqs.Queue) under the same mocks: {bare * 1000:.0f} ms (median of 3); the "
          f"program for {a0} agents is {t0 / bare:.2f}x that")
    print(f"marginal cost per added agent: {(r1 - r0) / (a1 - a0):.1f} resources, "
          f"{(t1 - t0) / (a1 - a0) * 1000:.0f} ms under mocks")

    print()
    print("== Bundle sizes (project code + declared requirements and their dependencies, from this venv)")
    pins = packaging.pinned_versions()
    sizes = {}
    for bundle in packaging.BUNDLES:
        spec = packaging.bundle_spec(bundle, pins=pins)
        plan = packaging.plan_bundle(spec)
        deps, count = installed_size(spec.requirements)
        code = packaging.source_size_bytes(spec)
        sizes[bundle] = deps + code
        print(f"{bundle:>9}: {spec.platform:<22} {count:>3} distributions {deps / 1e6:7.1f} MB + project code "
              f"{code / 1e3:6.0f} kB ({plan.source_files} files) -> {plan.zip_name}")
    for function, bundle in packaging.FUNCTION_BUNDLES.items():
        print(f"  function {function:<14} uses {bundle:<9} {sizes[bundle] / 1e6:7.1f} MB unzipped "
              f"({sizes[bundle] / sizes['agent']:.2f} x the agent bundle)")


if __name__ == "__main__":
    main()
