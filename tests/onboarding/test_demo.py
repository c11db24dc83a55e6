"""`aidlc demo onboarding` as a person runs it (the CLI command, in process): its Slack threads, as the Slack
emulator kept them and the command printed them, show each step of the issue's Done-when in order: the customer
onboarded (OUs, accounts, SCPs, package v1), the change set previewed and approved by an approver (a non-approver's
click refused and told privately), the stacks deployed and verified, then a failing deployment rolled back and the
rollback verified.

The whole demo in one test (two real durable workflows on moto, cfn-lint's first validation, six stacks deployed
and two rolled back): about 15 s here, the longest test of this folder, because it is the demo the issue shows.
"""

from __future__ import annotations

import re

from typer.testing import CliRunner

from runtime.cli import app


def _section(output: str, title: str) -> list[str]:
    """The lines of one printed thread (`--- Slack thread: <title> ---` up to the next blank line)."""
    block = output.split(f"--- Slack thread: {title} ---\n", 1)[1]
    return block.split("\n\n", 1)[0].splitlines()


def _index(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r} in:\n" + "\n".join(lines)
    return found[0]


def test_the_onboarding_demo_shows_every_step_in_the_slack_threads():
    result = CliRunner().invoke(app, ["demo", "onboarding", "--timeout", "240"])
    assert result.exit_code == 0, result.output
    output = result.output

    thread = _section(output, "onboarding and provisioning")
    steps = [
        _index(thread, r"asked for onboarding of `acme-co`"),
        _index(thread, r"Onboarded acme-co: organisation o-\w+, 2 OUs, 1 accounts \(acme-co-dev \d{12}\), "
                       r"3 SCPs attached, package v1 \(\d+ templates, validated\)\. OUs: .+; SCPs: .+"),
        _index(thread, r"^Change set for v1 into account \d{12}"),
        _index(thread, r"^Change set approved by U0SAM00001: deploying"),
        _index(thread, r"^\[1/\d\] aidlc-acme-co-\S+: succeeded"),
        _index(thread, r"^Provisioned acme-co v1 .*every resource verified"),
    ]
    assert steps == sorted(steps), thread
    assert not [line for line in thread if "failed" in line or "Rolled back" in line]

    failing = _section(output, "failing deployment")
    steps = [
        _index(failing, r"asked for provisioning of `acme-co`"),
        _index(failing, r"^Change set for v2 "),
        _index(failing, r"^Change set approved by U0SAM00001"),
        _index(failing, r"aidlc-acme-co-queue: succeeded"),
        _index(failing, r"aidlc-acme-co-broken: failed .*InvalidVpcID\.NotFound"),
        _index(failing, r"^Provisioning failed at deployed:broken.*Rolling back queue, broken"),
        _index(failing, r"^Rolled back and verified: aidlc-acme-co-broken, aidlc-acme-co-queue"),
    ]
    assert steps == sorted(steps), failing

    # the non-approver's click: refused, told privately (an ephemeral message), nothing of it in the threads
    assert "{'status': 'refused', 'reason': 'not an approver'}; U0PRIYA001 was told: Only an approver" in output
    assert not [line for line in thread + failing if "Only an approver" in line]
    assert re.search(r"failed deployment rolled back and verified in [\d.]+ s", output)
