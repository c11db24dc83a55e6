"""`aidlc demo onboarding`: a customer from a Slack request to verified stacks, then a failing deployment to a
verified rollback, each step posted in the workflow's Slack thread; the thread printed at the end.

Everything local: the Slack emulator (runtime/local/slack_emulator.py) on loopback, AWS on moto, the durable SDK's
runner. The Slack request and the Approve click go through `SlackWorkflows`, the code the signed /slack/commands and
/slack/interactivity routes run.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from runtime.onboarding.models import CFNPackage, WorkflowStatus

CUSTOMER = "acme-co"
# A package moto refuses to deploy: a subnet in a VPC that is not there (after a queue it creates fine).
FAILING_TEMPLATES = [
    {"name": "queue", "body": {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": "acme-demo-work", "SqsManagedSseEnabled": True}}}}},
    {"name": "broken", "depends_on": ["queue"], "body": {"Resources": {"Subnet": {"Type": "AWS::EC2::Subnet",
        "Properties": {"VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.0.0/24"}}}}},
]


def run(say: Callable[[str], None] = print, *, timeout: float = 300.0) -> dict[str, Any]:
    from runtime.local.slack_emulator import SlackEmulator
    from runtime.onboarding.workflows.engine import SlackThreadNotifier
    from runtime.onboarding.workflows.local import LocalWorkflows, declared_agent_tools
    from runtime.slack import commands
    from runtime.slack.notifier import SlackNotifier, web_client
    from runtime.slack.workflows import SlackWorkflows

    emulator = SlackEmulator()
    started = time.monotonic()
    with emulator.serve() as handle:
        bot = SlackNotifier(web_client(emulator.bot_token, handle.base_url + "/api/"))
        with LocalWorkflows.in_moto(notifier=SlackThreadNotifier(bot), agent_tools=declared_agent_tools()) as local:
            person, approver = emulator.person.id, emulator.approver.id
            # the project's approvers, as `aidlc dev` configures them (runtime/local/stack.py): the emulator's Sam
            slack = SlackWorkflows(lambda: local.engine, lambda: bot, approvers=lambda _record: [approver])

            say(f"/aidlc onboard {CUSTOMER} ops@acme.example us-east-1 s3,sqs dev   (as {person})")
            _, text, fields = slack.act(commands.Onboard(CUSTOMER, "ops@acme.example", ("us-east-1",), ("s3", "sqs"),
                                                         ("dev",)), channel=emulator.channel_id, user=person)
            say(text)
            onboarding_id, thread_ts = fields["workflow_id"], fields["thread_ts"]
            onboarding = local.wait(onboarding_id, timeout=timeout)
            _check(onboarding.state.status == WorkflowStatus.SUCCEEDED, f"onboarding {onboarding.state.error}")
            provisioning_id = local.provisioning_of(onboarding_id)
            local.wait_for(provisioning_id, WorkflowStatus.WAITING_APPROVAL, timeout=timeout)
            say(f"{person} clicks Approve on the change set (not an approver)")
            refused = slack.button(workflow_id=provisioning_id, approved=True, user=person)
            _check(refused["status"] == "refused", f"a non-approver decided the change set: {refused}")
            say(f"{refused}; {person} was told: {emulator.ephemeral[-1]['text'] if emulator.ephemeral else '-'}")
            say(f"{approver} clicks Approve on the change set")
            say(str(slack.button(workflow_id=provisioning_id, approved=True, user=approver)))
            provisioning = local.wait(provisioning_id, timeout=timeout)
            _check(provisioning.state.status == WorkflowStatus.SUCCEEDED, f"provisioning {provisioning.state.error}")

            version = local.services.tool_services.packages.put(CFNPackage(
                customer_id=CUSTOMER, templates=FAILING_TEMPLATES, requirements_digest="sha256:" + "0" * 64)).version
            say(f"/aidlc provision {CUSTOMER} {version}   (a package with a subnet moto refuses)")
            _, text, fields = slack.act(commands.Provision(CUSTOMER, version), channel=emulator.channel_id,
                                        user=person)
            say(text)
            failing_id, failing_ts = fields["workflow_id"], fields["thread_ts"]
            local.wait_for(failing_id, WorkflowStatus.WAITING_APPROVAL, timeout=timeout)
            say(str(slack.button(workflow_id=failing_id, approved=True, user=approver)))
            failed = local.wait(failing_id, timeout=timeout)
            _check(failed.state.status == WorkflowStatus.FAILED and failed.completed("rollback-done") is not None,
                   f"the failing deployment was not rolled back: {failed.state.status} {failed.state.error}")

            threads = {"onboarding and provisioning": _thread(emulator, thread_ts),
                       "failing deployment": _thread(emulator, failing_ts)}
            for title, lines in threads.items():
                say(f"\n--- Slack thread: {title} ---")
                for line in lines:
                    say(line)
            seconds = time.monotonic() - started
            say(f"\nonboarded, provisioned (approved, verified), failed deployment rolled back and verified "
                f"in {seconds:.1f} s")
            return {"onboarding": onboarding_id, "provisioning": provisioning_id, "failed": failing_id,
                    "threads": threads, "seconds": seconds}


def _thread(emulator: Any, ts: str | None) -> list[str]:
    return [m.get("text", "") for m in emulator.thread(ts)] if ts else []


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(what)
