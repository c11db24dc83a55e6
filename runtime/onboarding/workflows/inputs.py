"""What starting a workflow takes (POST /workflows, `/aidlc onboard|provision`, onboarding starting provisioning).

A bad field is a pydantic `ValidationError` naming it (the API answers 400 with the field's path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.onboarding.models import (
    AccountId,
    CustomerRequirements,
    EnvironmentName,
    Region,
    Slug,
    Version,
    WorkflowKind,
)


class OnboardingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requirements: CustomerRequirements
    # which environment's account the package is provisioned into once onboarded (default: the first one)
    target_environment: EnvironmentName | None = None
    provision: bool = True  # start provisioning at the end


class ProvisioningInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Slug
    version: Version | None = None  # None: the newest stored version
    account_id: AccountId | None = None  # the target account; None: the environment's account from onboarding
    environment: EnvironmentName | None = None
    region: Region | None = None  # None: the first of the requirements' regions
    parent_workflow_id: str | None = None  # the onboarding that started it


def parse_input(kind: WorkflowKind, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The validated input as stored in `WorkflowState.input` (with `customer_id` at the top for both kinds)."""
    if kind == WorkflowKind.ONBOARDING:
        parsed = OnboardingInput.model_validate(dict(payload))
        body = parsed.model_dump(mode="json")
        env = parsed.target_environment
        if env is not None and env not in parsed.requirements.environments:
            from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

            raise ValidationError.from_exception_data("OnboardingInput", [InitErrorDetails(
                type=PydanticCustomError("unknown_environment", "target_environment {env!r} is not one of the "
                                         "requirements' environments {envs}",
                                         {"env": env, "envs": parsed.requirements.environments}),
                loc=("target_environment",), input=env)])
        body["customer_id"] = parsed.requirements.customer_id
        return body
    parsed_p = ProvisioningInput.model_validate(dict(payload))
    return parsed_p.model_dump(mode="json")
