"""What every aidlc component shares: typed Args, child naming, tags, and the Lambda function building block
(role + least-privilege policy + log group with retention + function).

Args are frozen dataclasses: the fields are the contract (a missing or unknown argument is a TypeError naming it,
raised by the dataclass itself), and the value rules live in each `__post_init__`, next to the fields they check,
so the declaration and its validation cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from runtime.resources import Env, Function, PhysicalNames, function_environment

PACKAGE = "aidlc:index"
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip
LAMBDA_PYTHON = "python3.12"
LAMBDA_DURABLE_PYTHON = "python3.13"  # Lambda runs durable functions on python3.13 and later only
ARCHITECTURES = ("arm64", "x86_64")
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy's documented values).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
PLUGIN_DIRS_ENV = Env.PLUGIN_DIRS


class ComponentArgsError(ValueError):
    pass


def lambda_plugin_dirs(relative: Sequence[str]) -> str:
    return ":".join(f"{LAMBDA_TASK_ROOT}/{folder}" for folder in relative)


def child(parent: pulumi.ComponentResource, **extra: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, **extra)


def require(component: str, condition: bool, message: str) -> None:
    if not condition:
        raise ComponentArgsError(f"{component}: {message}")


def check_common(component: str, *, log_retention_days: int | None = None, architecture: str | None = None) -> None:
    if log_retention_days is not None:
        require(component, log_retention_days in LOG_RETENTION_DAYS,
                f"log_retention_days {log_retention_days} is not a CloudWatch Logs retention period "
                f"({', '.join(map(str, LOG_RETENTION_DAYS))})")
    if architecture is not None:
        require(component, architecture in ARCHITECTURES, f"architecture {architecture!r} is not one of {ARCHITECTURES}")


SSE_S3_RULE = {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}


def keep_private(owner: pulumi.ComponentResource, bucket: aws.s3.Bucket, prefix: str, *,
                 encryption_rule: Mapping[str, Any] = SSE_S3_RULE, acls_off: bool = True,
                 ) -> aws.s3.BucketPublicAccessBlock:
    """What keeps `bucket` private, as children of `owner` named `<prefix>-...`: ACLs off (BucketOwnerEnforced;
    `acls_off=False` leaves that to S3's default for new buckets), every public-access block on, default encryption
    (`encryption_rule`, SSE-S3 unless given). Returns the public access block, for what must not race it."""
    if acls_off:
        aws.s3.BucketOwnershipControls(f"{prefix}-ownership", bucket=bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child(owner))
    block = aws.s3.BucketPublicAccessBlock(
        f"{prefix}-no-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child(owner))
    aws.s3.BucketServerSideEncryptionConfiguration(f"{prefix}-encryption", bucket=bucket.id,
                                                   rules=[dict(encryption_rule)], opts=child(owner))
    return block


def lambda_trust_policy() -> str:
    return json.dumps(iam.service_trust_policy("lambda.amazonaws.com"))


@dataclass(frozen=True)
class LambdaFunctionArgs:
    function: Function  # the declaration in runtime/resources.py
    code: pulumi.Input[pulumi.Archive]
    arns: iam.StackArns
    names: PhysicalNames  # the deployment's physical names: its environment is function_environment(function, names)
    log_retention_days: int = 30
    architecture: str = "arm64"
    tags: Mapping[str, str] = field(default_factory=dict)
    # A durable function's (Function.durable) durable_config: {"execution_timeout": s, "retention_period": days}
    durable_config: Mapping[str, int] | None = None
    # What the function's adapters declare they call besides its declaration's resources (the tool Lambda's
    # AgentCore Browser and Code Interpreter sessions): the same one policy holds them.
    extra_statements: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:
        require("LambdaFunction", isinstance(self.function, Function), "function must be a runtime.resources.Function")
        require("LambdaFunction", self.code is not None, f"no code archive for {self.function.logical_name!r}")
        require("LambdaFunction", self.function.durable == (self.durable_config is not None),
                f"{self.function.logical_name!r}: a durable_config exactly when the declaration is durable")
        check_common("LambdaFunction", log_retention_days=self.log_retention_days, architecture=self.architecture)


class LambdaFunction(pulumi.ComponentResource):
    """One Lambda function from its declaration: its environment from `function_environment`, its own role whose
    policy is built by `iam.function_statements` (and, for a durable function, a second one on its own executions,
    whose ARNs exist only once it does), a log group with retention, JSON logs."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:LambdaFunction", name, None, opts)
        declaration = args.function
        tags = dict(args.tags)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, tags=tags, opts=child(self))
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=lambda_trust_policy(), tags=tags,
                                 opts=child(self))
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(iam.function_policy(declaration, args.arns, self.log_group.arn,
                                                                 extra_statements=args.extra_statements)),
            opts=child(self),
        )
        # A durable function is published: Lambda starts durable executions only on a qualified ARN (a version).
        durable = {"durable_config": dict(args.durable_config), "publish": True} if args.durable_config else {}
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            role=self.role.arn,
            runtime=LAMBDA_DURABLE_PYTHON if declaration.durable else LAMBDA_PYTHON,
            handler=declaration.handler,
            code=args.code,
            architectures=[args.architecture],
            timeout=declaration.timeout_seconds,
            memory_size=declaration.memory_mb,
            environment={"variables": function_environment(declaration, args.names)},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            tags=tags,
            opts=child(self, depends_on=[self.policy]),
            **durable,
        )
        if declaration.durable:  # its own executions' ARNs start with its ARN, known once it exists
            self.durable_policy = aws.iam.RolePolicy(
                f"{name}-durable-policy", role=self.role.id,
                policy=pulumi.Output.json_dumps(iam.document([iam.durable_execution_statement(self.function.arn)])),
                opts=child(self))
        self.arn = self.function.arn
        self.name = self.function.name
        self.qualified_arn = self.function.qualified_arn  # the published version (durable functions)
        self.register_outputs({"arn": self.arn, "name": self.name, "role_arn": self.role.arn})
