"""Ingress: the HTTP API. `POST /webhook/notion` is public (Notion signs it; the webhook verifies), the internal
API routes need SigV4 (AWS_IAM). Stage throttling and JSON access logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import PACKAGE, check_common, child, require
from runtime.resources import ROUTES, Route

# API Gateway's authorization type for each declared route auth (runtime/resources.py).
AUTHORIZATION_TYPES = {"none": "NONE", "iam": "AWS_IAM"}
WEBHOOK_ROUTE = next(r.key for r in ROUTES if r.function == "webhook")
INTERNAL_ROUTES: tuple[str, ...] = tuple(r.key for r in ROUTES if r.auth == "iam")
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
    "caller": "$context.identity.caller",
})


@dataclass(frozen=True)
class IngressArgs:
    function_arns: Mapping[str, pulumi.Input[str]]  # function logical name -> ARN, for every routed function
    function_names: Mapping[str, pulumi.Input[str]]
    routes: tuple[Route, ...] = ROUTES
    throttle_rate: float = 20.0
    throttle_burst: int = 40
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = sorted({r.function for r in self.routes} - set(self.function_arns))
        require("Ingress", not missing, f"routes name functions with no ARN: {missing}")
        require("Ingress", self.throttle_rate > 0 and self.throttle_burst > 0, "throttling must be positive")
        check_common("Ingress", log_retention_days=self.log_retention_days)


def _slug(route_key: str) -> str:
    return route_key.lower().replace(" /", "-").replace("/", "-").replace("{", "").replace("}", "").strip("-")


class Ingress(pulumi.ComponentResource):
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    routes: dict[str, aws.apigatewayv2.Route]
    endpoint: pulumi.Output[str]
    webhook_url: pulumi.Output[str]

    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Ingress", name, None, opts)
        tags = dict(args.tags)
        self.api = aws.apigatewayv2.Api(f"{name}-http", protocol_type="HTTP",
                                        description="aidlc: Notion webhook and internal API", tags=tags,
                                        opts=child(self))
        self.access_logs = aws.cloudwatch.LogGroup(f"{name}-access-logs", retention_in_days=args.log_retention_days,
                                                   tags=tags, opts=child(self))
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": args.throttle_rate,
                "throttling_burst_limit": args.throttle_burst,
                "detailed_metrics_enabled": True,
            },
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            tags=tags,
            opts=child(self),
        )
        routed = list(dict.fromkeys(r.function for r in args.routes))
        integrations = {f: self._integration(name, f, args.function_arns[f]) for f in routed}
        self.routes = {
            # "none": Notion cannot sign SigV4; the webhook handler checks X-Notion-Signature itself.
            route.key: aws.apigatewayv2.Route(
                f"{name}-{_slug(route.key)}",
                api_id=self.api.id,
                route_key=route.key,
                authorization_type=AUTHORIZATION_TYPES[route.auth],
                target=pulumi.Output.concat("integrations/", integrations[route.function].id),
                opts=child(self),
            )
            for route in args.routes
        }
        for function in routed:
            aws.lambda_.Permission(
                f"{name}-{function}-allow-apigw",
                action="lambda:InvokeFunction",
                function=args.function_names[function],
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/*"),
                opts=child(self),
            )
        self.endpoint = self.api.api_endpoint
        self.webhook_url = pulumi.Output.concat(self.api.api_endpoint, WEBHOOK_ROUTE.split(" ", 1)[1])
        self.register_outputs({"endpoint": self.endpoint, "webhook_url": self.webhook_url})

    def _integration(self, name: str, label: str, function_arn: pulumi.Input[str]) -> aws.apigatewayv2.Integration:
        return aws.apigatewayv2.Integration(
            f"{name}-{label}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_uri=function_arn,
            integration_method="POST",
            payload_format_version="2.0",
            opts=child(self),
        )
