"""What keeps a workflow step going when AWS or Slack misbehave, and what stops it when going on is wrong.

- **Retries** are the durable engine's step configuration (`step_config`): a step whose error is transient is
  retried by the engine (the Lambda is not kept running while it waits) with delays that grow exponentially
  (the seed's RetryConfig: 5 attempts, 1 s first, x2, at most 60 s; no jitter, so the delays strictly grow until the
  cap: property 16). Throttling of one AWS call is botocore's business (standard mode, 3 attempts): we never wrap a
  single call in a retry loop of ours (ARCHITECTURE.md "Retries"), we retry whole steps.
- **Circuit breakers** (`pybreaker`), one per external service (organizations, cloudformation, s3, slack), with the
  seed's thresholds (5 failures open it, 60 s until a trial call, 2 successes close it). Their state lives in the
  workflows table (`DynamoBreakerStorage`), so a breaker opened by one Lambda instance is open for the next one.
  Only failures of the service count (transient errors); a refused or invalid request is our problem, not its.
- **Critical errors** (access denied on the management account, a policy refusal) are not retried: the workflow
  halts, and `Alerts.critical` posts to the thread and emits a metric.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable

import pybreaker
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from runtime import resources

log = logging.getLogger(__name__)

SERVICES = resources.BREAKER_SERVICES


@dataclass(frozen=True)
class RetryPolicy:
    """The seed's RetryConfig (maxAttempts 5, initialDelayMs 1000, maxDelayMs 60000, backoffMultiplier 2)."""

    max_attempts: int = 5
    initial_delay_seconds: int = 1
    max_delay_seconds: int = 60
    backoff_rate: float = 2.0

    def delays(self) -> list[int]:
        """The waits between attempts, as the engine computes them (attempt n waits initial * rate^(n-1), capped)."""
        strategy = self.strategy()
        probe = TransientStepError("probe")
        out: list[int] = []
        for attempt in range(1, self.max_attempts + 1):
            decision = strategy(probe, attempt)
            if not decision.should_retry:
                break
            out.append(decision.delay_seconds)
        return out

    def strategy(self) -> Callable[[Exception, int], Any]:
        """The durable SDK's exponential strategy: only `TransientStepError` is retried, with no jitter."""
        return create_retry_strategy(RetryStrategyConfig(
            max_attempts=self.max_attempts,
            initial_delay=Duration.from_seconds(self.initial_delay_seconds),
            max_delay=Duration.from_seconds(self.max_delay_seconds),
            backoff_rate=self.backoff_rate,
            jitter_strategy=JitterStrategy.NONE,
            retryable_error_types=[TransientStepError],
        ))


DEFAULT_RETRY = RetryPolicy()


def step_config(policy: RetryPolicy = DEFAULT_RETRY) -> StepConfig:
    return StepConfig(retry_strategy=policy.strategy())


# --- errors a step raises: the class decides retry / fail / halt -------------------------------------------------

class StepFailure(Exception):
    """A step could not do its work. `error_class` is A's ErrorClass value (transient, permanent, critical)."""

    error_class = "permanent"

    def __init__(self, message: str, *, service: str = "", operation: str = "", code: str = "",
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.operation = operation
        self.code = code
        self.details = details or {}


class TransientStepError(StepFailure):
    error_class = "transient"


class PermanentStepError(StepFailure):
    error_class = "permanent"


class CriticalStepError(StepFailure):
    error_class = "critical"


class WorkflowCancelled(Exception):
    """A cancel was asked for: the workflow stops at this step boundary."""


_FAILURE = {"transient": TransientStepError, "permanent": PermanentStepError, "critical": CriticalStepError}
_CODE = re.compile(r"An error occurred \((?P<code>[A-Za-z0-9_.]+)\)(?: when calling the (?P<op>\w+) operation)?")


def failure_for(message: str, *, denied: bool = False, service: str = "", operation: str = "",
                code: str = "") -> StepFailure:
    """The step error for a failed tool call. A tool's exception reaches us as text (the registry turns every
    adapter error into the model-readable message), so the AWS error code is read back from botocore's standard
    wording and classified by the models' `classify_error`, the one classification. A policy denial is critical."""
    if denied:
        return CriticalStepError(message, service=service, operation=operation, code=code or "PolicyDenied")
    found = _CODE.search(message)
    if found:
        code = code or found["code"]
        operation = operation or (found["op"] or "")
    error_class = classify_code(code, message) if code else "permanent"
    if "CircuitBreakerError" in message or "circuit breaker" in message.lower():
        error_class = "transient"
    return _FAILURE[error_class](message, service=service, operation=operation, code=code)


def classify_code(code: str, message: str = "") -> str:
    from botocore.exceptions import ClientError

    from runtime.onboarding.models import classify_error

    exc = ClientError({"Error": {"Code": code, "Message": message}}, "Unknown")
    return str(getattr(classify_error(exc), "value", classify_error(exc))).lower()


# --- circuit breakers ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BreakerSettings:
    """The seed's CircuitBreakerConfig. `half_open_retry_delay_seconds` (30 s) has no pybreaker counterpart: the
    breaker lets one trial call through once `reset_timeout_seconds` have passed (the seed's `timeout`), and a
    failed trial opens it again for another `reset_timeout_seconds`."""

    failure_threshold: int = 5
    success_threshold: int = 2
    reset_timeout_seconds: float = 60.0
    half_open_retry_delay_seconds: float = 30.0


BREAKER_SETTINGS = BreakerSettings()
BREAKER_KEY_PREFIX = "breaker#"


class DynamoBreakerStorage(pybreaker.CircuitBreakerStorage):
    """A breaker's state in one item of the workflows table (`workflow_id` = "breaker#<service>"), counters changed
    with atomic `ADD`s, so every Lambda instance (and every workflow in one) sees the same breaker."""

    def __init__(self, service: str, *, table: str, client: Any, initial: str = pybreaker.STATE_CLOSED) -> None:
        super().__init__(f"dynamodb:{service}")
        self._key = {"workflow_id": {"S": BREAKER_KEY_PREFIX + service}}
        self._table = table
        self._client = client
        self._initial = initial

    def _item(self) -> dict:
        return self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item") or {}

    def _set(self, name: str, value: dict) -> None:
        self._client.update_item(TableName=self._table, Key=self._key, UpdateExpression="SET #a = :v",
                                 ExpressionAttributeNames={"#a": name}, ExpressionAttributeValues={":v": value})

    def _add(self, name: str, amount: int) -> None:
        self._client.update_item(TableName=self._table, Key=self._key, UpdateExpression="ADD #a :n",
                                 ExpressionAttributeNames={"#a": name}, ExpressionAttributeValues={":n": {"N": str(amount)}})

    @property
    def state(self) -> str:
        return (self._item().get("state") or {}).get("S", self._initial)

    @state.setter
    def state(self, state: str) -> None:
        self._set("state", {"S": str(state)})

    def increment_counter(self) -> None:
        self._add("fail_counter", 1)

    def reset_counter(self) -> None:
        self._set("fail_counter", {"N": "0"})

    def increment_success_counter(self) -> None:
        self._add("success_counter", 1)

    def reset_success_counter(self) -> None:
        self._set("success_counter", {"N": "0"})

    @property
    def counter(self) -> int:
        return int((self._item().get("fail_counter") or {}).get("N", "0"))

    @property
    def success_counter(self) -> int:
        return int((self._item().get("success_counter") or {}).get("N", "0"))

    @property
    def opened_at(self) -> datetime | None:
        value = (self._item().get("opened_at") or {}).get("S")
        return datetime.fromisoformat(value) if value else None

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._set("opened_at", {"S": value.astimezone(UTC).isoformat()})


def _not_the_service(exc: BaseException) -> bool:
    """Failures that say nothing about the service's health (our bad request, a refusal) do not count."""
    return isinstance(exc, StepFailure) and not isinstance(exc, TransientStepError)


class Breakers:
    """One `pybreaker.CircuitBreaker` per external service; storage shared through DynamoDB when a table is given
    (in memory otherwise: one process, tests of the workflow logic)."""

    def __init__(self, *, table: str | None = None, client: Any = None,
                 settings: BreakerSettings = BREAKER_SETTINGS, metrics_enabled: bool = False) -> None:
        self.settings = settings
        # a breaker going open emits `WorkflowCircuitOpen` (the infra's alarm, components/workflows.py); off
        # unless asked for (in AWS: wiring.services_from_env), so tests and `aidlc dev` print no metric lines
        self.metrics_enabled = metrics_enabled
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        for service in SERVICES:
            storage = (DynamoBreakerStorage(service, table=table, client=client) if table and client is not None
                       else pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))
            self._breakers[service] = pybreaker.CircuitBreaker(
                fail_max=settings.failure_threshold, reset_timeout=settings.reset_timeout_seconds,
                success_threshold=settings.success_threshold, exclude=[_not_the_service], state_storage=storage,
                name=service, listeners=[_OpenedMetric(self)])

    def __getitem__(self, service: str) -> pybreaker.CircuitBreaker:
        return self._breakers[service]

    def call(self, service: str | None, func: Callable[[], Any]) -> Any:
        """Run `func` behind `service`'s breaker; an open breaker is a transient failure (retried later)."""
        if service is None:
            return func()
        try:
            return self._breakers[service].call(func)
        except pybreaker.CircuitBreakerError as exc:
            raise TransientStepError(f"{service} circuit breaker is open: {exc}", service=service,
                                     code="CircuitOpen") from None

    def states(self) -> dict[str, str]:
        return {name: b.current_state for name, b in self._breakers.items()}


# --- critical alerts -------------------------------------------------------------------------------------------

METRIC_NAMESPACE = resources.WORKFLOW_METRIC_NAMESPACE
CIRCUIT_OPEN_METRIC = resources.CIRCUIT_OPEN_METRIC


class _OpenedMetric(pybreaker.CircuitBreakerListener):
    """A `WorkflowCircuitOpen` metric (dimension Service) each time a breaker opens (EMF, as `Alerts`')."""

    def __init__(self, breakers: "Breakers") -> None:
        self.breakers = breakers

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        if not self.breakers.metrics_enabled or getattr(new_state, "name", None) != pybreaker.STATE_OPEN:
            return
        from aws_lambda_powertools.metrics import MetricUnit, single_metric
        from aws_lambda_powertools.metrics.functions import is_metrics_disabled

        if is_metrics_disabled():
            return
        with single_metric(name=CIRCUIT_OPEN_METRIC, unit=MetricUnit.Count, value=1.0,
                           namespace=METRIC_NAMESPACE) as metric:
            metric.add_dimension(name="Service", value=str(cb.name))


class Alerts:
    """A critical error: a message in the workflow's thread (through the notifier) and a `WorkflowCriticalError`
    metric (CloudWatch embedded metric format; the alarm on it is the infra's)."""

    def __init__(self, notify: Callable[[dict | None, str], Any] | None = None, *, metrics_enabled: bool = True) -> None:
        self._notify = notify
        self.metrics_enabled = metrics_enabled
        self.sent: list[dict] = []  # what was alerted in this process (the demo prints it; tests read it)

    def critical(self, *, workflow_id: str, kind: str, step: str, error: StepFailure, thread: dict | None) -> None:
        text = (f":rotating_light: workflow {workflow_id} ({kind}) halted at {step}: {error.message} "
                f"(critical: needs a person before it is resumed)")
        self.sent.append({"workflow_id": workflow_id, "step": step, "code": error.code, "text": text})
        if self._notify is not None:
            try:
                self._notify(thread, text)
            except Exception:  # the alert's metric still goes out
                log.exception("critical alert not posted to Slack for %s", workflow_id)
        if self.metrics_enabled:
            from aws_lambda_powertools.metrics import MetricUnit, single_metric
            from aws_lambda_powertools.metrics.functions import is_metrics_disabled

            if is_metrics_disabled():
                return
            with single_metric(name=resources.CRITICAL_METRIC, unit=MetricUnit.Count, value=1.0,
                               namespace=METRIC_NAMESPACE) as metric:
                metric.add_dimension(name="WorkflowKind", value=kind)
