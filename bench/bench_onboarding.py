"""Onboarding workflow wall time for 1, 10 and 50 concurrent customers against moto (ratios against the 1-customer
run measured in the same run), and the AWS calls per onboarding against the minimum its steps need.

    .venv/bin/python bench/bench_onboarding.py [--sizes 1,10,50]

Each customer: the default requirements shape (two environments, dev and prod: 3 OUs, 2 accounts, 3 SCPs), the
whole onboarding workflow on the durable SDK's local runner (validate -> organisation -> OUs -> accounts, waited ->
SCPs attached -> package built, validated, versioned -> notified), provisioning not started. A warm-up customer runs
first (cfn-lint's schemas, moto's first calls), so the 1-customer run is the steady-state baseline. AWS calls are
counted from the audit trail (source "aws": the botocore hook on every client the tools use), by workflow.

The minimum per step, and why (N environments, so N accounts and 1 + N OUs; P policies, T attachments):
- organization: 2 — DescribeOrganization (is there one, its id) and ListRoots (the root the OUs go under).
- ou:<name>: 2 each — ListOrganizationalUnitsForParent (find it: idempotent by name) and CreateOrganizationalUnit.
- account:<name> + polls: 4 each — ListAccounts (find it by e-mail), CreateAccount, DescribeCreateAccountStatus
  (it is asynchronous: at least one poll), MoveAccount (into its OU; a new account lands in the root).
- policy:<name>: 2 each — ListPolicies (find it by name) and CreatePolicy.
- attach:<policy>:<ou>: 2 each — ListPoliciesForTarget (attached already?) and AttachPolicy.
- package_built, package_validated: 0 (local work: templates, cfn-lint, our rules).
- package_versioned: 2 — a listing of the customer's stored versions (the same content keeps its version) and one
  PutObject.
- notified: 0 AWS (Slack). Workflow state writes (DynamoDB, the engine's own) are not tool calls and not counted.
So the minimum is 2 + 2(1 + N) + 4N + 2P + 2T + 2; for N = 2, P = 3, T = 3: 30.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def requirements(customer: str) -> dict:
    return {"customer_id": customer, "customer_name": customer, "contact_email": f"ops@{customer}.example",
            "infrastructure": {"regions": ["us-east-1"], "services": ["s3"]}}


def minimum_calls(environments: int = 2, policies: int = 3, attachments: int = 3) -> int:
    return 2 + 2 * (1 + environments) + 4 * environments + 2 * policies + 2 * attachments + 2


def run_batch(local, prefix: str, count: int) -> tuple[float, list[str]]:
    from runtime.onboarding.models import WorkflowStatus

    started = time.perf_counter()
    ids = [local.engine.start("onboarding", {"requirements": requirements(f"{prefix}-{i:03d}"),
                                             "provision": False}).workflow_id for i in range(count)]
    with ThreadPoolExecutor(max_workers=min(count, 16)) as pool:
        records = list(pool.map(lambda wid: local.wait(wid, timeout=1800), ids))
    seconds = time.perf_counter() - started
    bad = [r.workflow_id for r in records if r.state.status != WorkflowStatus.SUCCEEDED]
    if bad:
        raise SystemExit(f"{len(bad)} onboardings did not succeed: {local.record(bad[0]).state.error}")
    return seconds, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10,50")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    logging.disable(logging.WARNING)

    from runtime.onboarding.tools import TOOL_NAMES
    from runtime.onboarding.workflows.local import LocalWorkflows
    from runtime.registry import get_registry

    registry = get_registry()
    agent_tools = None if "onboarding" in registry else {"onboarding": list(TOOL_NAMES)}
    with LocalWorkflows.in_moto(agent_tools=agent_tools, poll_seconds=1) as local:
        run_batch(local, "warm", 1)
        results = {}
        for size in sizes:
            seconds, ids = run_batch(local, f"c{size}", size)
            calls = Counter(r.invocation_id for r in local.audit.records if r.source == "aws")
            results[size] = (seconds, [calls[i] for i in ids])
        base = results[sizes[0]][0] / sizes[0]
        floor = minimum_calls()
        print(f"{'customers':>9} {'wall s':>8} {'s/customer':>10} {'vs 1 (per customer)':>20} {'AWS calls/onboarding':>22}")
        for size, (seconds, per) in results.items():
            print(f"{size:>9} {seconds:>8.2f} {seconds / size:>10.3f} {(seconds / size) / base:>19.2f}x "
                  f"{statistics.mean(per):>14.1f} (min {floor})")
        worst = max(results)
        seconds, per = results[worst]
        print(f"summary: {worst} concurrent onboardings in {seconds:.1f} s ({seconds / results[sizes[0]][0]:.1f}x the "
              f"1-customer wall time, {(seconds / worst) / base:.2f}x per customer); "
              f"{statistics.mean(per):.1f} AWS calls per onboarding against a minimum of {floor} "
              f"({statistics.mean(per) / floor:.2f}x)")


if __name__ == "__main__":
    main()
