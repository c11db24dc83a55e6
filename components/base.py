"""What every aidlc component shares: Args validation at construction, child naming, tags, and the Lambda
function building block (role + least-privilege policy + log group with retention + function)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from components import iam
from runtime.resources import Function

PACKAGE = "aidlc:index"
PLUGIN_DIRS_ENV = "AIDLC_PLUGIN_DIRS"  # read by runtime/registry.py
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip


def lambda_plugin_dirs(relative: Sequence[str]) -> str:
    return ":".join(f"{LAMBDA_TASK_ROOT}/{folder}" for folder in relative)


class ComponentArgsError(TypeError):
    pass


def validate_args(component: str, args: Mapping[str, Any], args_type: type, required: tuple[str, ...]) -> dict:
    """Unknown keys and missing required keys are errors that name the component and the key."""
    known = set(getattr(args_type, "__annotations__", {}))  # names only: no need to resolve the types
    unknown = sorted(set(args) - known)
    missing = [key for key in required if args.get(key) is None]
    problems = [f"unknown argument {key!r}" for key in unknown] + [f"missing required argument {k!r}" for k in missing]
    if problems:
        raise ComponentArgsError(f"{component}: " + "; ".join(problems) + f" (known: {', '.join(sorted(known))})")
    return dict(args)


def child(parent: pulumi.ComponentResource, **extra: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, **extra)


def lambda_trust_policy() -> str:
    return json.dumps(iam.service_trust_policy("lambda.amazonaws.com"))


class LambdaFunctionArgs(TypedDict, total=False):
    function: Function  # the declaration in runtime/resources.py
    code: pulumi.Input[pulumi.Archive]
    arns: iam.StackArns
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    log_retention_days: int
    architecture: str
    tags: Mapping[str, str]


class LambdaFunction(pulumi.ComponentResource):
    """One Lambda function from its declaration: its own role whose only policy is built by
    `iam.function_statements`, a log group with retention, JSON logs."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:LambdaFunction", name, None, opts)
        args = validate_args("LambdaFunction", args, LambdaFunctionArgs, ("function", "code", "arns"))
        declaration: Function = args["function"]
        tags = dict(args.get("tags") or {})
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=args.get("log_retention_days", 30),
            tags=tags,
            opts=child(self),
        )
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=lambda_trust_policy(), tags=tags,
                                 opts=child(self))
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(iam.function_policy(declaration, args["arns"], self.log_group.arn)),
            opts=child(self),
        )
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            role=self.role.arn,
            runtime="python3.12",
            handler=declaration.handler,
            code=args["code"],
            architectures=[args.get("architecture", "arm64")],
            timeout=declaration.timeout_seconds,
            memory_size=declaration.memory_mb,
            environment={"variables": args.get("environment") or {}},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            tags=tags,
            opts=child(self, depends_on=[self.policy]),
        )
        self.arn = self.function.arn
        self.name = self.function.name
        self.register_outputs({"arn": self.arn, "name": self.name, "role_arn": self.role.arn})
