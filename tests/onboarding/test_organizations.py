"""OrganizationService against moto: made once, found on a re-run (idempotent by look-up)."""

from __future__ import annotations

import pytest

from runtime.onboarding.aws import AwsClients
from runtime.onboarding.models import CustomerRequirements, OrganizationConfig
from runtime.onboarding.organizations import OrganizationService

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["s3:DeleteBucket"], "Resource": "*"}]}


@pytest.fixture
def orgs(aws):
    return OrganizationService(AwsClients(region="us-east-1"))


def config() -> OrganizationConfig:
    return OrganizationConfig.from_requirements(CustomerRequirements(
        customer_id="acme", customer_name="Acme", contact_email="ops@acme.example",
        infrastructure={"regions": ["us-east-1"]}))


def test_ensure_organization_makes_one_with_scps_enabled(orgs):
    first = orgs.ensure_organization()
    again = orgs.ensure_organization()
    assert first.id == again.id and first.scp_enabled and first.management_account_id == "123456789012"


def test_ou_account_policy_are_found_not_made_twice(orgs):
    root = orgs.ensure_organization().root_id
    ou = orgs.ensure_ou(root, "acme")
    assert orgs.ensure_ou(root, "acme") == ou
    child = orgs.ensure_ou(ou, "acme-dev")
    assert orgs.ensure_ou(root, "acme-dev") != child  # the same name under another parent is another OU
    account = orgs.ensure_account("acme-dev", "ops+dev@acme.example", child)
    assert account.state == "SUCCEEDED" and account.ou_id == child and not account.found
    again = orgs.ensure_account("acme-dev", "OPS+dev@acme.example", child)  # e-mails compare case-insensitively
    assert again.found and again.account_id == account.account_id
    policy = orgs.ensure_policy("acme-guard", DOC, "guard")
    assert orgs.ensure_policy("acme-guard", DOC, "guard") == policy
    assert orgs.attach_policy(policy, ou) and not orgs.attach_policy(policy, ou)
    described = orgs.describe()
    assert [a.email for a in described.accounts].count("ops+dev@acme.example") == 1
    assert [p.name for p in described.policies].count("acme-guard") == 1
    assert described.ou_path(child) == ["acme", "acme-dev"]


def test_a_found_account_is_moved_into_its_ou(orgs):
    root = orgs.ensure_organization().root_id
    made = orgs.ensure_account("acme-x", "x@acme.example")  # left in the root (a crash before the move)
    ou = orgs.ensure_ou(root, "acme")
    moved = orgs.ensure_account("acme-x", "x@acme.example", ou)
    assert moved.account_id == made.account_id and moved.ou_id == ou


def test_a_changed_policy_document_is_updated_in_place(orgs):
    orgs.ensure_organization()
    policy = orgs.ensure_policy("acme-guard", DOC)
    stricter = {**DOC, "Statement": DOC["Statement"] + [{"Effect": "Deny", "Action": ["s3:PutBucketAcl"],
                                                          "Resource": "*"}]}
    assert orgs.ensure_policy("acme-guard", stricter) == policy
    import json

    stored = orgs.org.describe_policy(PolicyId=policy)["Policy"]["Content"]
    assert json.loads(stored) == stricter


def test_apply_twice_gives_the_same_ids(orgs):
    first = orgs.apply(config())
    second = orgs.apply(config())
    assert first.ou_ids == second.ou_ids and first.policy_ids == second.policy_ids
    assert {n: a.account_id for n, a in first.accounts.items()} == {n: a.account_id for n, a in second.accounts.items()}
    assert all(a.found for a in second.accounts.values())


def test_an_in_flight_creation_is_polled_until_it_finishes(orgs):
    """Organizations answers IN_PROGRESS first (moto: SUCCEEDED at once); apply waits between polls."""
    service = orgs
    answers = iter(["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])
    real = service.account_status
    waits = []

    def account_status(request_id, ou_id=None):
        status = real(request_id, ou_id)
        state = next(answers)
        return status if state == "SUCCEEDED" else status.model_copy(update={"state": state, "account_id": None})

    original = service.ensure_account
    service.ensure_account = lambda *a: original(*a).model_copy(update={"state": "IN_PROGRESS"})
    service.account_status = account_status
    result = service.apply(OrganizationConfig(customer_id="acme", organizational_units=[{"name": "acme"}],
                                              accounts=[{"name": "acme-dev", "email": "d@acme.example", "ou": "acme",
                                                         "environment": "dev"}]),
                           wait=waits.append, poll_seconds=7)
    assert result.accounts["acme-dev"].state == "SUCCEEDED" and waits == [7, 7, 7]


def test_close_account_refuses_the_management_account(orgs):
    orgs.ensure_organization()
    with pytest.raises(ValueError, match="management account"):
        orgs.close_account("123456789012")
    member = orgs.ensure_account("acme-x", "x@acme.example").account_id
    assert orgs.close_account(member) in ("SUSPENDED", "PENDING_CLOSURE")
    assert orgs.close_account(member) in ("SUSPENDED", "PENDING_CLOSURE")  # again: not an error
