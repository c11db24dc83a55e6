"""Ingress: the HTTP API. `POST /webhook/notion` is public (Notion signs it; the webhook verifies), the internal
API routes need SigV4 (AWS_IAM). Stage throttling and JSON access logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from components.base import PACKAGE, child, validate_args

WEBHOOK_ROUTE = "POST /webhook/notion"
# The internal API (ARCHITECTURE.md "The flow"), served by the api function.
INTERNAL_ROUTES: tuple[str, ...] = (
    "POST /invoke",
    "GET /invocation/{id}",
    "POST /invocation/{id}/cancel",
    "GET /project/{id}/invocations",
    "GET /project/{id}/cost-summary",
)
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


class IngressArgs(TypedDict, total=False):
    webhook_function_arn: pulumi.Input[str]
    webhook_function_name: pulumi.Input[str]
    api_function_arn: pulumi.Input[str]
    api_function_name: pulumi.Input[str]
    throttle_rate: float
    throttle_burst: int
    log_retention_days: int
    tags: Mapping[str, str]


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
        args = validate_args(
            "Ingress", args, IngressArgs,
            ("webhook_function_arn", "webhook_function_name", "api_function_arn", "api_function_name"),
        )
        tags = dict(args.get("tags") or {})
        self.api = aws.apigatewayv2.Api(f"{name}-http", protocol_type="HTTP",
                                        description="aidlc: Notion webhook and internal API", tags=tags,
                                        opts=child(self))
        self.access_logs = aws.cloudwatch.LogGroup(f"{name}-access-logs",
                                                   retention_in_days=args.get("log_retention_days", 30), tags=tags,
                                                   opts=child(self))
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": args.get("throttle_rate", 20.0),
                "throttling_burst_limit": args.get("throttle_burst", 40),
                "detailed_metrics_enabled": True,
            },
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            tags=tags,
            opts=child(self),
        )
        webhook_integration = self._integration(name, "webhook", args["webhook_function_arn"])
        api_integration = self._integration(name, "api", args["api_function_arn"])
        self.routes = {
            WEBHOOK_ROUTE: aws.apigatewayv2.Route(
                f"{name}-{_slug(WEBHOOK_ROUTE)}",
                api_id=self.api.id,
                route_key=WEBHOOK_ROUTE,
                authorization_type="NONE",  # Notion cannot sign SigV4; the handler checks X-Notion-Signature
                target=pulumi.Output.concat("integrations/", webhook_integration.id),
                opts=child(self),
            )
        }
        for route_key in INTERNAL_ROUTES:
            self.routes[route_key] = aws.apigatewayv2.Route(
                f"{name}-{_slug(route_key)}",
                api_id=self.api.id,
                route_key=route_key,
                authorization_type="AWS_IAM",
                target=pulumi.Output.concat("integrations/", api_integration.id),
                opts=child(self),
            )
        for label, function_name in (("webhook", args["webhook_function_name"]), ("api", args["api_function_name"])):
            aws.lambda_.Permission(
                f"{name}-{label}-allow-apigw",
                action="lambda:InvokeFunction",
                function=function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/*"),
                opts=child(self),
            )
        self.endpoint = self.api.api_endpoint
        self.webhook_url = pulumi.Output.concat(self.api.api_endpoint, "/webhook/notion")
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
