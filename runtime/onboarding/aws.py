"""Audited boto3 clients for the organisation's management account and, by assuming its access role, for any member.

    aws = AwsClients(audit=sink, access_role_name="OrganizationAccountAccessRole")
    aws.client("organizations")                       # the management account's own clients
    aws.for_account("123456789012").client("cloudformation", "eu-west-1")   # a member's, through sts:AssumeRole

The management clients are `runtime.aws_clients.AwsClients` (one session for the principal, lazily created, clients
cached per service/region), with the audit hook (runtime/onboarding/aws_audit.py) and the IAM-coverage
`CallRecorder`, when one is given, attached to that session before any client exists. A member account's session uses
botocore's own assume-role credential fetcher (`AssumeRoleCredentialFetcher` + `DeferredRefreshableCredentials`:
assumed on first use, refreshed before expiry; the AssumeRole call itself is made by an audited management client),
and gets the same hooks. `AccountClients` is that same class with only its session's making overridden (assumed
credentials are not a static key pair). Nothing is created at import or construction.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from runtime.aws_clients import AwsClients as PrincipalClients
from runtime.onboarding.aws_audit import AwsAuditHook, SessionHooks
from runtime.tools.audit import AuditSink

DEFAULT_ACCESS_ROLE = "OrganizationAccountAccessRole"  # what Organizations creates in every account it makes
ROLE_SESSION_NAME = "aidlc-onboarding"
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_loader: Any = None
_loader_lock = threading.Lock()


def shared_loader() -> Any:
    """One botocore data loader (it caches the service models it reads) for every session made here: a session per
    member account would otherwise read and parse each service's model again."""
    global _loader
    with _loader_lock:
        if _loader is None:
            from botocore.loaders import create_loader

            _loader = create_loader()
        return _loader


class AccountClients(PrincipalClients):
    """The clients of one member account, as the organisation's access role there: the base class's cached session
    and clients, with a session whose credentials come from assuming the role."""

    def __init__(self, owner: "AwsClients", account_id: str) -> None:
        self.owner = owner
        self.account_id = account_id
        self.role_arn = f"arn:aws:iam::{account_id}:role/{owner.access_role_name}"
        # the ARN STS gives an assumed-role session (documented format), so records need no extra call
        principal = f"arn:aws:sts::{account_id}:assumed-role/{owner.access_role_name}/{owner.session_name}"
        super().__init__(principal, recorder=owner.hooks_for(account_id, principal),
                         endpoint_url=owner.endpoint_url, region=owner.region)

    def _new_session(self) -> Any:
        import boto3
        import botocore.session
        from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

        management = self.owner.management.session

        def sts_client(service: str, **kwargs: Any) -> Any:
            return management.client(service, region_name=self.region, endpoint_url=self.endpoint_url, **kwargs)

        fetcher = AssumeRoleCredentialFetcher(
            sts_client, management.get_credentials(), self.role_arn,
            extra_args={"RoleSessionName": self.owner.session_name})
        core = botocore.session.Session()
        core.register_component("data_loader", shared_loader())
        core._credentials = DeferredRefreshableCredentials(  # botocore's documented refreshable pattern
            refresh_using=fetcher.fetch_credentials, method="assume-role")
        return boto3.session.Session(botocore_session=core, region_name=self.region)


class AwsClients:
    """The onboarding's AWS access: management clients, member-account clients by `for_account`, all audited."""

    def __init__(
        self,
        *,
        audit: AuditSink | None = None,
        access_role_name: str = DEFAULT_ACCESS_ROLE,
        principal: str = "onboarding",
        recorder: Any | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: tuple[str, str] | None = None,
        session_name: str = ROLE_SESSION_NAME,
    ) -> None:
        """`audit`: the audit trail's sink (None: nothing recorded; the tools then still work). `recorder`: the
        IAM coverage check's CallRecorder. `endpoint_url`/`region`/`credentials`: a local AWS (moto's server)."""
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", access_role_name):
            raise ValueError(f"access_role_name {access_role_name!r} is not an IAM role name")
        self.access_role_name = access_role_name
        self.session_name = session_name
        self.endpoint_url = endpoint_url
        self.region = region
        self.recorder = recorder
        self.audit_hook = AwsAuditHook(audit)
        self._identity: dict[str, str] | None = None
        self._identity_lock = threading.RLock()  # its own GetCallerIdentity's record asks for it again
        self._accounts: dict[str, AccountClients] = {}
        self._lock = threading.Lock()
        self.management = PrincipalClients(principal, recorder=SessionHooks(self._attach_management),
                                           endpoint_url=endpoint_url, region=region, credentials=credentials)

    def _attach_management(self, session: Any, principal: str) -> None:
        getattr(session, "_session", session).register_component("data_loader", shared_loader())
        self.hooks_for(lambda: self.identity()["Account"], lambda: self.identity()["Arn"]).attach(session, principal)

    def hooks_for(self, account: Any, principal: Any) -> SessionHooks:
        """What a new session gets: the audit hook (with the caller's account and ARN) and the CallRecorder."""
        hooks = [lambda session, _p: self.audit_hook.attach(session, principal, account=account)]
        if self.recorder is not None:
            hooks.append(self.recorder.attach)
        return SessionHooks(*hooks)

    # --- the management account ----------------------------------------------------------------------------

    def client(self, service: str, region: str | None = None) -> Any:
        """The management account's client for `service` (created once, cached)."""
        return self.management.client(service, region)

    def identity(self) -> dict[str, str]:
        """{"Account", "Arn"} of the management credentials: one sts:GetCallerIdentity per process (audited; its
        own record learns the principal from this answer)."""
        with self._identity_lock:
            if self._identity is None:
                self._identity = {"Account": "", "Arn": ""}  # what the GetCallerIdentity record itself shows
                try:
                    found = self.management.client("sts").get_caller_identity()
                except Exception:
                    self._identity = None
                    raise
                self._identity = {"Account": found["Account"], "Arn": found["Arn"]}
            return self._identity

    @property
    def management_account_id(self) -> str:
        return self.identity()["Account"]

    # --- member accounts -----------------------------------------------------------------------------------

    def for_account(self, account_id: str) -> "AccountClients | AwsClients":
        """The clients of `account_id`: the access role assumed there, or the management clients themselves when it
        is the management account (nothing to assume)."""
        if not _ACCOUNT_ID.match(account_id or ""):
            raise ValueError(f"account_id {account_id!r} is not a 12-digit AWS account id")
        if account_id == self.management_account_id:
            return self
        with self._lock:
            found = self._accounts.get(account_id)
            if found is None:
                found = self._accounts[account_id] = AccountClients(self, account_id)
            return found

    @property
    def account_id(self) -> str:
        return self.management_account_id

    def reset(self) -> None:
        """Forget every session and client (tests that start a new moto backend)."""
        self.management.reset()
        with self._lock:
            self._accounts.clear()
        with self._identity_lock:
            self._identity = None


__all__ = ["DEFAULT_ACCESS_ROLE", "AccountClients", "AwsClients"]
