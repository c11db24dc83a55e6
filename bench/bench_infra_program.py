"""How the Pulumi program's cost grows with the number of agent plugins, against what no program can go below, and
how big each code bundle is.

    .venv/bin/python bench/bench_infra_program.py

1. Baselines: a fresh interpreter loading the pulumi and pulumi_aws modules the program loads (issue 16's yardstick:
   each touched, since pulumi_aws's modules are lazy stubs until then); and, for each program size, as many bare
   resources (sqs.Queue) under the same mocks and the same garbage-collector settings: Pulumi's own cost per
   resource, the floor any program with that many resources pays.
2. The whole program in a fresh interpreter (imports, plugins, a build under mocks), as `pulumi up` would start it.
   Then, in this warm process, the real `__main__.py` under Pulumi mocks with 9 (built-in), 22 and 52 agent plugins (extra plugins are
   generated into a temporary folder, as a plugin author would drop them in): wall and CPU time (median of 3),
   resources registered, time against the import and against the floor, and how time scales with the agents.
   Where the time above the floor goes (cProfile of one 9-agent build, December 2026): Pulumi serialising richer
   resources than a bare queue (more inputs, more outputs: rpc.py, output.py, asyncio); the project's own Python
   code (components/, runtime/) was about 0.03 s of it.
3. Bundle sizes per function: the project's own code plus the declared requirement set and its dependencies,
   measured from this virtualenv's installed files (no network, so not the manylinux wheels themselves: sizes
   are indicative, within the difference between this platform's and manylinux's builds).
Loopback/no network; bounded loops; under a minute.
"""

from __future__ import annotations

import importlib.metadata
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

# The import statements alone: pulumi_aws makes each module a lazy stub (pulumi/_utils.py _LazyModule) that loads on its
# first attribute access, so this loads next to nothing. It was this bench's yardstick until December 2026.
IMPORT_STATEMENTS = ("import pulumi, pulumi_aws.apigatewayv2, pulumi_aws.bedrock, pulumi_aws.cloudfront, "
                     "pulumi_aws.cloudwatch, pulumi_aws.dynamodb, pulumi_aws.iam, pulumi_aws.kms, pulumi_aws.lambda_, "
                     "pulumi_aws.s3, pulumi_aws.secretsmanager, pulumi_aws.sns, pulumi_aws.sqs")

# Which pulumi and pulumi_aws modules the program really loads (a lazy stub that was touched turns into a plain
# module): issue 16's "bare import of the modules it uses" imports exactly these, and touches each so it loads.
LOADED_PULUMI_MODULES = """
import json, sys, types
{program}
print(json.dumps(sorted(name for name, module in sys.modules.items()
                        if name.split(".")[0] in ("pulumi", "pulumi_aws") and type(module) is types.ModuleType)))
"""


def load_modules(names: list[str]) -> str:
    """Code that imports `names` and touches each, so pulumi_aws's lazy stubs really load."""
    return f"import importlib\nfor name in {names!r}:\n    getattr(importlib.import_module(name), '__all__', None)\n"


def bare_resources(count: int) -> str:
    """Code for `count` bare sqs.Queue resources under the same mocks and garbage-collector settings."""
    return ("from components.mockrun import run_program\nfrom components.program import collect_garbage_less_often\n"
            "import pulumi_aws as aws\ndef program():\n    collect_garbage_less_often()\n"
            f"    for index in range({count}):\n        aws.sqs.Queue(f'bare-{{index}}', tags={{'aidlc:bench': 'bare'}})\n"
            "run_program(program)\n")


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


# The whole program in a fresh interpreter, as `pulumi up` runs it (there, against the engine instead of mocks).
FRESH_PROGRAM = ("from pathlib import Path\nfrom components.mockrun import run_main\n"
                 "from runtime.stack_config import SECRET_KEYS, pulumi_config_map\n"
                 "run_main(Path('.'), pulumi_config_map('dev', Path('.')), secrets={k: 'bench' for k in SECRET_KEYS})\n")


def fresh_interpreter(code: str, runs: int = 3) -> tuple[float, float]:
    """(wall s, CPU s) medians of a fresh interpreter running `code` (CPU: the child's user + system)."""
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((time.perf_counter() - start,
                      after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def program_run(extra_agents: int, runs: int = 3) -> tuple[float, float, int, int]:
    """(wall s, CPU s) medians of `runs` builds of `__main__.py` under mocks, resources, agents."""
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
        config = pulumi_config_map("dev", ROOT)
        secrets = {k: "bench" for k in SECRET_KEYS}
        times, resources, agents = [], 0, 0
        for _ in range(runs):
            reset_registry()
            agents = len(get_registry().agents)  # loaded outside the timing, like the import baseline
            recording: list = []
            times.append(_timed(lambda: recording.append(run_main(ROOT, config, secrets=secrets))))
            resources = len(recording[0].resources)
        reset_registry()
    os.environ.pop("AIDLC_PLUGIN_DIRS", None)
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times), resources, agents


def bare_resources_run(count: int, runs: int = 3) -> tuple[float, float]:
    """(wall s, CPU s) medians for `count` bare resources under the same mocks and the program's garbage-collector
    settings: what Pulumi's engine itself costs per resource (registration, stack traces, output plumbing), the
    floor under the program's own overhead."""
    import pulumi_aws as aws

    from components.mockrun import run_program
    from components.program import collect_garbage_less_often

    def program() -> None:
        collect_garbage_less_often()  # as __main__.py does
        for index in range(count):
            aws.sqs.Queue(f"bare-{index}", tags={"aidlc:bench": "bare"})

    times = [_timed(lambda: run_program(program)) for _ in range(runs)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


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

    import json

    print("== Pulumi program under mocks: cost against the number of agent plugins")
    probe = subprocess.run([sys.executable, "-c", LOADED_PULUMI_MODULES.format(program=FRESH_PROGRAM)], check=True,
                           cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    modules = json.loads(probe.stdout.strip().splitlines()[-1])
    import_wall, baseline = fresh_interpreter(load_modules(modules))
    _, statements = fresh_interpreter(IMPORT_STATEMENTS)
    print(f"yardstick: a fresh interpreter loading the {len(modules)} pulumi and pulumi_aws modules the program loads: "
          f"{baseline * 1000:.0f} ms CPU ({import_wall * 1000:.0f} ms wall), median of 3")
    print(f"  (the import statements alone load pulumi_aws's lazy stubs only: {statements * 1000:.0f} ms; that was this "
          "bench's yardstick before December 2026: it timed the stubs, not the modules the program uses)")
    print("in this warm process, the build alone (the registry loaded outside the timing):")
    program_run(0, runs=1)  # warm-up: first run pays pulumi_aws and registry imports in this process
    bare_resources_run(1, runs=1)
    print(f"{'agents':>6} {'resources':>9} {'wall ms':>7} {'cpu ms':>6} {'floor cpu ms':>12} {'x floor':>7}")
    rows = []
    for extra in (0, 13, 43):
        wall, cpu, resources, agents = program_run(extra)
        _, floor = bare_resources_run(resources)
        rows.append((agents, resources, cpu, floor))
        print(f"{agents:>6} {resources:>9} {wall * 1000:>7.0f} {cpu * 1000:>6.0f} {floor * 1000:>12.0f} "
              f"{cpu / floor:>7.2f}")
    print("(median of 3 each. Ratios are of CPU time, which a shared machine disturbs less than wall time; on an "
          "idle one they are close. Floor: as many bare sqs.Queue resources under the same mocks and GC settings.)")
    (a0, r0, t0, f0), (a1, r1, t1, _) = rows[0], rows[-1]
    print(f"scaling, {a1} agents against {a0}: {t1 / t0:.2f}x the time for {a1 / a0:.2f}x the agents "
          f"({r1 / r0:.2f}x the resources); marginal cost per added agent: {(r1 - r0) / (a1 - a0):.1f} resources, "
          f"{(t1 - t0) / (a1 - a0) * 1000:.0f} ms CPU")
    fresh_wall, fresh = fresh_interpreter(FRESH_PROGRAM)
    _, fresh_floor = fresh_interpreter(load_modules(modules) + bare_resources(r0))
    print(f"the whole program in a fresh interpreter, as `pulumi up` starts it (imports, plugins, {a0} agents, "
          f"{r0} resources under mocks): {fresh * 1000:.0f} ms CPU ({fresh_wall * 1000:.0f} ms wall)")
    print(f"its floor: a fresh interpreter loading the same modules and registering {r0} bare resources: "
          f"{fresh_floor * 1000:.0f} ms CPU = {fresh_floor / baseline:.2f}x the yardstick")
    goal = 1.2
    reach = ("out of reach for any program of that many resources, whose floor is above it"
             if fresh_floor / baseline > goal else "within reach: the floor is below it")
    print(f"issue 16 goal, {a0} agents <= {goal}x the bare import: {fresh / baseline:.2f}x; {reach}; "
          f"the program is {fresh / fresh_floor:.2f}x its floor")
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
