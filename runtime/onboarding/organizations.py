"""AWS Organizations operations for onboarding: the organisation, OUs, member accounts, service control policies.

    orgs = OrganizationService(aws)                        # aws: runtime.onboarding.aws.AwsClients (management)
    root = orgs.ensure_organization().root_id
    ou = orgs.ensure_ou(root, "acme")
    status = orgs.ensure_account("acme-dev", "ops+acme-dev@acme.example", ou)   # asynchronous: poll account_status
    policy = orgs.ensure_policy("acme-guardrails", {...}, "why")
    orgs.attach_policy(policy, ou)

Every operation is idempotent by look-up, so a step re-run after a crash finds what the first run made: an OU by
(parent, name), an account by e-mail (or its creation request still in flight, by account name), a policy by name,
an attachment by (policy, target). `apply(config)` runs a whole `OrganizationConfig` (what the onboarding workflow
does step by step through the org_* tools) and answers the same ids on a re-run.

Account creation is asynchronous: `create_account` answers a CreateAccountStatus (IN_PROGRESS, later SUCCEEDED or
FAILED); `account_status(request_id)` polls it. An account is moved into its OU once it exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from runtime.onboarding.models import OrganizationConfig, Strict

SCP = "SERVICE_CONTROL_POLICY"


class AccountStatus(Strict):
    """Where an account's creation stands (Organizations' CreateAccountStatus, plus where the account sits)."""

    name: str
    email: str = ""
    request_id: str | None = None  # None when the account was found already made
    state: Literal["IN_PROGRESS", "SUCCEEDED", "FAILED"]
    account_id: str | None = None
    ou_id: str | None = None  # the OU the account is in (None until it exists)
    failure_reason: str | None = None
    found: bool = False  # True: it already existed (a re-run), nothing was made


class OrganizationalUnitInfo(Strict):
    id: str
    name: str
    parent_id: str


class AccountInfo(Strict):
    id: str
    name: str
    email: str
    status: str
    parent_id: str


class PolicyInfo(Strict):
    id: str
    name: str
    description: str = ""
    targets: list[str] = Field(default_factory=list)  # ids of the roots, OUs and accounts it is attached to


class OrganizationDescription(Strict):
    id: str
    management_account_id: str
    root_id: str
    scp_enabled: bool
    organizational_units: list[OrganizationalUnitInfo] = Field(default_factory=list)
    accounts: list[AccountInfo] = Field(default_factory=list)
    policies: list[PolicyInfo] = Field(default_factory=list)

    def ou_path(self, ou_id: str) -> list[str]:
        """The OU's names from the top down (root excluded)."""
        by_id = {ou.id: ou for ou in self.organizational_units}
        path: list[str] = []
        while ou_id in by_id:
            path.insert(0, by_id[ou_id].name)
            ou_id = by_id[ou_id].parent_id
        return path


class OrganizationResult(Strict):
    """What `apply(config)` made or found: OU name -> id, account name -> status, policy name -> id."""

    root_id: str
    ou_ids: dict[str, str]
    accounts: dict[str, AccountStatus]
    policy_ids: dict[str, str]


def _code(exc: Exception) -> str:
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


class OrganizationService:
    def __init__(self, clients: Any) -> None:
        """`clients`: anything with `.client(service)` answering management-account clients (an AwsClients)."""
        self.clients = clients

    @property
    def org(self) -> Any:
        return self.clients.client("organizations")

    def _pages(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.org.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items

    # --- the organisation ----------------------------------------------------------------------------------

    def ensure_organization(self) -> OrganizationDescription:
        """The organisation (made with all features when there is none yet), with SCPs enabled on its root."""
        self.ensure_root()
        return self.describe()

    def ensure_root(self) -> str:
        """`ensure_organization` without the description: the root's id."""
        try:
            self.org.describe_organization()
        except Exception as exc:
            if _code(exc) != "AWSOrganizationsNotInUseException":
                raise
            try:
                self.org.create_organization(FeatureSet="ALL")
            except Exception as again:  # another run made it meanwhile
                if _code(again) != "AlreadyInOrganizationException":
                    raise
        root = self._root()
        if not any(p.get("Type") == SCP and p.get("Status") == "ENABLED" for p in root.get("PolicyTypes", [])):
            try:
                self.org.enable_policy_type(RootId=root["Id"], PolicyType=SCP)
            except Exception as exc:
                if _code(exc) != "PolicyTypeAlreadyEnabledException":
                    raise
        return root["Id"]

    def _root(self) -> dict[str, Any]:
        return self._pages("list_roots", "Roots")[0]

    def describe(self) -> OrganizationDescription:
        """The whole organisation: OUs (tree), accounts with their parent, SCPs with their targets."""
        organization = self.org.describe_organization()["Organization"]
        root = self._root()
        scp_enabled = any(p.get("Type") == SCP and p.get("Status") == "ENABLED" for p in root.get("PolicyTypes", []))
        ous: list[OrganizationalUnitInfo] = []
        accounts: list[AccountInfo] = []
        pending = [root["Id"]]
        while pending:
            parent = pending.pop(0)
            for ou in self._pages("list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
                ous.append(OrganizationalUnitInfo(id=ou["Id"], name=ou["Name"], parent_id=parent))
                pending.append(ou["Id"])
            for account in self._pages("list_accounts_for_parent", "Accounts", ParentId=parent):
                accounts.append(AccountInfo(id=account["Id"], name=account["Name"], email=account["Email"],
                                            status=account.get("Status", ""), parent_id=parent))
        policies = []
        for policy in self._pages("list_policies", "Policies", Filter=SCP):
            if policy.get("AwsManaged"):
                continue
            targets = self._pages("list_targets_for_policy", "Targets", PolicyId=policy["Id"])
            policies.append(PolicyInfo(id=policy["Id"], name=policy["Name"], description=policy.get("Description", ""),
                                       targets=sorted(t["TargetId"] for t in targets)))
        return OrganizationDescription(id=organization["Id"], management_account_id=organization["MasterAccountId"],
                                       root_id=root["Id"], scp_enabled=scp_enabled, organizational_units=ous,
                                       accounts=accounts, policies=policies)

    # --- OUs -----------------------------------------------------------------------------------------------

    def find_ou(self, parent_id: str, name: str) -> str | None:
        for ou in self._pages("list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent_id):
            if ou["Name"] == name:
                return ou["Id"]
        return None

    def ensure_ou(self, parent_id: str, name: str) -> str:
        """The id of the OU `name` under `parent_id` (a root or OU id), made if it is not there."""
        found = self.find_ou(parent_id, name)
        if found:
            return found
        try:
            return self.org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
        except Exception as exc:
            if _code(exc) == "DuplicateOrganizationalUnitException":  # made by a concurrent run
                found = self.find_ou(parent_id, name)
                if found:
                    return found
            raise

    # --- accounts ------------------------------------------------------------------------------------------

    def find_account(self, email: str) -> dict[str, Any] | None:
        for account in self._pages("list_accounts", "Accounts"):
            if account["Email"].lower() == email.lower():
                return account
        return None

    def _parent_of(self, account_id: str) -> str:
        return self.org.list_parents(ChildId=account_id)["Parents"][0]["Id"]

    def _place(self, account_id: str, ou_id: str | None) -> str:
        """Move the account into `ou_id` if it is elsewhere; its parent afterwards."""
        parent = self._parent_of(account_id)
        if ou_id and parent != ou_id:
            self.org.move_account(AccountId=account_id, SourceParentId=parent, DestinationParentId=ou_id)
            parent = ou_id
        return parent

    def ensure_account(self, name: str, email: str, ou_id: str | None = None) -> AccountStatus:
        """The account with this e-mail, in `ou_id`: found (and moved there if needed), or its creation requested.
        A creation still in flight for this name is answered, not requested again."""
        found = self.find_account(email)
        if found is not None:
            return AccountStatus(name=found["Name"], email=found["Email"], state="SUCCEEDED", account_id=found["Id"],
                                 ou_id=self._place(found["Id"], ou_id), found=True)
        for request in self._pages("list_create_account_status", "CreateAccountStatuses", States=["IN_PROGRESS"]):
            if request.get("AccountName") == name:
                return self._status(request, email, ou_id)
        created = self.org.create_account(AccountName=name, Email=email)["CreateAccountStatus"]
        return self._status(created, email, ou_id)

    def account_status(self, request_id: str, ou_id: str | None = None) -> AccountStatus:
        """Where the creation request stands; once it succeeded, the account is placed in `ou_id` if given."""
        status = self.org.describe_create_account_status(CreateAccountRequestId=request_id)["CreateAccountStatus"]
        return self._status(status, "", ou_id)

    def _status(self, status: dict[str, Any], email: str, ou_id: str | None) -> AccountStatus:
        state = status["State"]
        account_id = status.get("AccountId")
        placed = self._place(account_id, ou_id) if state == "SUCCEEDED" and account_id else None
        return AccountStatus(name=status.get("AccountName", ""), email=email, request_id=status.get("Id"),
                             state=state, account_id=account_id, ou_id=placed,
                             failure_reason=status.get("FailureReason"))

    def close_account(self, account_id: str) -> str:
        """Close a member account (Organizations keeps it PENDING_CLOSURE, then SUSPENDED, for 90 days). Closing
        an account already closing is not an error; the management account cannot be closed this way."""
        management = self.org.describe_organization()["Organization"]["MasterAccountId"]
        if account_id == management:
            raise ValueError(f"account_id {account_id} is the organisation's management account; it cannot be closed")
        current = self.org.describe_account(AccountId=account_id)["Account"]
        if current.get("Status") in ("SUSPENDED", "PENDING_CLOSURE"):
            return current["Status"]
        try:
            self.org.close_account(AccountId=account_id)
        except Exception as exc:
            if _code(exc) != "AccountAlreadyClosedException":
                raise
        return self.org.describe_account(AccountId=account_id)["Account"].get("Status", "PENDING_CLOSURE")

    # --- service control policies --------------------------------------------------------------------------

    def find_policy(self, name: str) -> dict[str, Any] | None:
        for policy in self._pages("list_policies", "Policies", Filter=SCP):
            if policy["Name"] == name:
                return policy
        return None

    def ensure_policy(self, name: str, document: dict[str, Any], description: str = "") -> str:
        """The id of the SCP `name`, holding exactly `document`: made if absent, its content updated if it differs."""
        content = json.dumps(document, sort_keys=True, separators=(",", ":"))
        found = self.find_policy(name)
        if found is None:
            try:
                return self.org.create_policy(Name=name, Description=description, Type=SCP,
                                              Content=content)["Policy"]["PolicySummary"]["Id"]
            except Exception as exc:
                if _code(exc) != "DuplicatePolicyException":
                    raise
                found = self.find_policy(name)
                if found is None:
                    raise
        current = self.org.describe_policy(PolicyId=found["Id"])["Policy"]
        if json.loads(current["Content"]) != document or current["PolicySummary"].get("Description", "") != description:
            self.org.update_policy(PolicyId=found["Id"], Content=content, Description=description)
        return found["Id"]

    def attach_policy(self, policy_id: str, target_id: str) -> bool:
        """Attach the policy to a root, OU or account; False when it was attached already (nothing done)."""
        targets = self._pages("list_targets_for_policy", "Targets", PolicyId=policy_id)
        if any(t["TargetId"] == target_id for t in targets):
            return False
        try:
            self.org.attach_policy(PolicyId=policy_id, TargetId=target_id)
        except Exception as exc:
            if _code(exc) == "DuplicatePolicyAttachmentException":
                return False
            raise
        return True

    # --- a whole plan --------------------------------------------------------------------------------------

    def apply(self, config: OrganizationConfig, *, wait: Callable[[float], None] = time.sleep,
              poll_seconds: float = 10.0) -> OrganizationResult:
        """Make (or find) everything `config` says: OUs parents first, accounts in their OUs (creation requests
        polled every `poll_seconds` until they finish), policies created and attached to their target OUs."""
        root = self.ensure_root()
        ou_ids: dict[str, str] = {}
        for ou in config.ou_order():
            ou_ids[ou.name] = self.ensure_ou(ou_ids[ou.parent] if ou.parent else root, ou.name)
        accounts: dict[str, AccountStatus] = {}
        for account in config.accounts:
            status = self.ensure_account(account.name, str(account.email), ou_ids[account.ou])
            while status.state == "IN_PROGRESS" and status.request_id:  # moto answers SUCCEEDED at once
                wait(poll_seconds)
                status = self.account_status(status.request_id, ou_ids[account.ou])
            accounts[account.name] = status
        policy_ids: dict[str, str] = {}
        for policy in config.policies:
            policy_ids[policy.name] = self.ensure_policy(policy.name, policy.document, policy.description)
            for target in policy.targets:
                self.attach_policy(policy_ids[policy.name], ou_ids[target])
        return OrganizationResult(root_id=root, ou_ids=ou_ids, accounts=accounts, policy_ids=policy_ids)


__all__ = ["AccountInfo", "AccountStatus", "OrganizationDescription", "OrganizationResult", "OrganizationService",
           "OrganizationalUnitInfo", "PolicyInfo"]
