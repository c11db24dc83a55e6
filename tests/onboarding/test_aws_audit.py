"""The AWS audit hook (runtime/onboarding/aws_audit.py): one record per AWS call, in the one audit trail."""

from __future__ import annotations

import pytest
from botocore.exceptions import ParamValidationError

from runtime.onboarding.aws import AwsClients
from runtime.onboarding.aws_audit import audit_scope
from runtime.tools.audit import AuditRecord, MemoryAuditSink, argument_digest


@pytest.fixture
def audited(aws, organization):
    sink = MemoryAuditSink()
    return AwsClients(audit=sink, region="us-east-1"), sink


def test_a_call_is_one_record_with_digest_account_region_principal(audited):
    clients, sink = audited
    clients.client("s3").create_bucket(Bucket="acme-audit-one")
    [identity, created] = sink.records
    assert identity.tool == "sts:GetCallerIdentity"  # the management identity, learnt once
    assert created.source == "aws" and created.tool == "s3:CreateBucket" and created.outcome == "ok"
    assert created.args_sha256 == argument_digest({"Bucket": "acme-audit-one"})
    assert "acme-audit-one" not in created.model_dump_json()  # the parameters themselves are never stored
    assert (created.account, created.region) == ("123456789012", "us-east-1")
    assert created.principal == identity.principal == "arn:aws:sts::123456789012:user/moto"


def test_an_error_answer_is_recorded_with_its_code(audited):
    clients, sink = audited
    with pytest.raises(Exception):
        clients.client("organizations").describe_account(AccountId="000000000000")
    assert sink.records[-1].outcome == "error" and "AccountNotFoundException" in sink.records[-1].detail


def test_a_call_botocore_refuses_before_sending_makes_no_record(audited):
    clients, sink = audited
    s3 = clients.client("s3")
    before = len(sink.records)
    with pytest.raises(ParamValidationError):
        s3.create_bucket()
    assert len(sink.records) == before


def test_member_account_calls_carry_the_assumed_role(audited, organization):
    clients, sink = audited
    org, _ = organization
    member = org.create_account(AccountName="m", Email="m@acme.example")["CreateAccountStatus"]["AccountId"]
    with audit_scope("01JD0000000000000000000021", "provisioning"):
        clients.for_account(member).client("sqs", "eu-west-1").create_queue(QueueName="q")
    assume = next(r for r in sink.records if r.tool == "sts:AssumeRole")
    queue = sink.records[-1]
    assert assume.account == "123456789012"  # assumed by the management account
    assert queue.tool == "sqs:CreateQueue" and queue.account == member and queue.region == "eu-west-1"
    assert queue.principal == f"arn:aws:sts::{member}:assumed-role/OrganizationAccountAccessRole/aidlc-onboarding"
    assert (queue.invocation_id, queue.agent_type) == ("01JD0000000000000000000021", "provisioning")
    assert clients.for_account("123456789012") is clients  # the management account needs no role


def test_a_failing_sink_never_fails_the_call(aws, organization):
    class Broken:
        def record(self, record):
            raise RuntimeError("audit table down")

    clients = AwsClients(audit=Broken(), region="us-east-1")
    assert clients.client("s3").list_buckets()["Buckets"] == []


def test_aws_records_round_trip_the_audit_table_item():
    record = AuditRecord(source="aws", tool="s3:PutObject", args_sha256="a" * 64, outcome="ok", duration_ms=3,
                         account="123456789012", region="us-east-1", principal="arn:aws:sts::123456789012:user/x")
    assert AuditRecord.from_item(record.to_item()) == record
    plain = AuditRecord(source="tool", tool="x", args_sha256="a" * 64, outcome="ok", duration_ms=1).to_item()
    assert not {"account", "region", "principal"} & set(plain)  # the other sources' items are unchanged


def test_bad_access_role_names_and_account_ids_are_refused(aws):
    with pytest.raises(ValueError, match="access_role_name"):
        AwsClients(access_role_name="no spaces allowed")
    with pytest.raises(ValueError, match="12-digit"):
        AwsClients().for_account("12345")
