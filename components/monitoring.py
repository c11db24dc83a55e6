"""Monitoring: an SNS topic for alarms (e-mail subscription), alarms on every DLQ, every Lambda's error rate and
the month's cost against the budget, an operations dashboard and a cost dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import PACKAGE, child, require
from components.iam import METRICS_NAMESPACE, alarm_topic_key_policy

COST_METRIC = "MonthToDateCostUSD"  # published by the completion step, dimension ProjectId
ERROR_RATE_PERCENT = 10
BUDGET_THRESHOLDS = (80, 100)


@dataclass(frozen=True)
class MonitoringArgs:
    project_id: str
    monthly_budget_usd: float
    function_names: Mapping[str, pulumi.Input[str]]  # logical name -> Lambda function name
    dead_letter_queue_names: Mapping[str, pulumi.Input[str]]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    alarm_email: str | None = None
    queue_names: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("Monitoring", float(self.monthly_budget_usd) > 0, "monthly_budget_usd must be positive")
        require("Monitoring", bool(self.function_names), "no functions to watch")


class Monitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    operations_dashboard: aws.cloudwatch.Dashboard
    cost_dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Monitoring", name, None, opts)
        tags = dict(args.tags)
        # A customer-managed key: CloudWatch alarms cannot publish to a topic under the AWS-managed aws/sns key,
        # whose policy does not admit cloudwatch.amazonaws.com and cannot be changed.
        self.topic_key = aws.kms.Key(
            f"{name}-alarms-key",
            description="aidlc: encrypts the alarm topic; CloudWatch may use it to publish alarms",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=pulumi.Output.json_dumps(alarm_topic_key_policy(args.account_id)),
            tags=tags,
            opts=child(self),
        )
        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=self.topic_key.arn, tags=tags,
                                   opts=child(self))
        if args.alarm_email:
            aws.sns.TopicSubscription(f"{name}-alarm-email", topic=self.topic.arn, protocol="email",
                                      endpoint=args.alarm_email, opts=child(self))
        actions = [self.topic.arn]
        self.alarms = {}
        for queue, dlq_name in args.dead_letter_queue_names.items():
            self.alarms[f"dlq-{queue}"] = aws.cloudwatch.MetricAlarm(
                f"{name}-{queue}-dlq-not-empty",
                alarm_description=f"aidlc: messages in the {queue} dead-letter queue (failed 3 times)",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dlq_name},
                statistic="Maximum",
                period=60,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                opts=child(self),
            )
        for function, function_name in args.function_names.items():
            self.alarms[f"errors-{function}"] = aws.cloudwatch.MetricAlarm(
                f"{name}-{function.replace('_', '-')}-error-rate",
                alarm_description=f"aidlc: {function} errors above {ERROR_RATE_PERCENT} % of invocations over 5 minutes",
                comparison_operator="GreaterThanThreshold",
                threshold=ERROR_RATE_PERCENT,
                evaluation_periods=1,
                treat_missing_data="notBreaching",
                metric_queries=[
                    _lambda_metric("errors", "Errors", function_name),
                    _lambda_metric("invocations", "Invocations", function_name),
                    {"id": "rate", "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
                     "label": "error rate (%)", "return_data": True},
                ],
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                opts=child(self),
            )
        budget = float(args.monthly_budget_usd)
        for percent in BUDGET_THRESHOLDS:
            self.alarms[f"budget-{percent}"] = aws.cloudwatch.MetricAlarm(
                f"{name}-budget-{percent}",
                alarm_description=f"aidlc: month-to-date agent cost over {percent} % of the ${budget:.2f} budget",
                namespace=METRICS_NAMESPACE,
                metric_name=COST_METRIC,
                dimensions={"ProjectId": args.project_id},
                statistic="Maximum",
                period=3600,
                evaluation_periods=1,
                threshold=round(budget * percent / 100, 2),
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                tags=tags,
                opts=child(self),
            )
        region = args.region
        self.operations_dashboard = aws.cloudwatch.Dashboard(
            f"{name}-operations",
            dashboard_name=f"{args.project_id}-operations",
            dashboard_body=pulumi.Output.json_dumps(operations_dashboard(
                region, args.function_names, args.queue_names, args.dead_letter_queue_names)),
            opts=child(self),
        )
        self.cost_dashboard = aws.cloudwatch.Dashboard(
            f"{name}-cost",
            dashboard_name=f"{args.project_id}-cost",
            dashboard_body=pulumi.Output.json_dumps(cost_dashboard(region, args.project_id, budget)),
            opts=child(self),
        )
        self.topic_arn = self.topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "alarm_count": len(self.alarms)})


def _lambda_metric(metric_id: str, metric: str, function_name: Any) -> dict[str, Any]:
    return {"id": metric_id, "return_data": False, "metric": {
        "namespace": "AWS/Lambda", "metric_name": metric, "dimensions": {"FunctionName": function_name},
        "period": 300, "stat": "Sum"}}


def operations_dashboard(region: Any, functions: Mapping[str, Any], queues: Mapping[str, Any],
                         dlqs: Mapping[str, Any]) -> dict[str, Any]:
    """CloudWatch dashboard JSON: per-function invocations/errors/duration, queue depth, DLQ depth."""
    def widget(title: str, metrics: list, y: int, x: int = 0, stat: str = "Sum") -> dict[str, Any]:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat, "period": 300, "metrics": metrics}}

    widgets = [
        widget("Lambda invocations", [["AWS/Lambda", "Invocations", "FunctionName", n] for n in functions.values()], 0),
        widget("Lambda errors", [["AWS/Lambda", "Errors", "FunctionName", n] for n in functions.values()], 0, 12),
        widget("Lambda duration p95", [["AWS/Lambda", "Duration", "FunctionName", n] for n in functions.values()],
               6, stat="p95"),
        widget("Queue depth", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", n]
                               for n in queues.values()], 6, 12, "Maximum"),
        widget("Dead-letter queues", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", n]
                                      for n in dlqs.values()], 12, 0, "Maximum"),
    ]
    return {"widgets": widgets}


def cost_dashboard(region: Any, project_id: str, budget: float) -> dict[str, Any]:
    return {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 24, "height": 6, "properties": {
            "title": f"{project_id}: month-to-date agent cost (USD)", "region": region, "stat": "Maximum",
            "period": 3600, "metrics": [[METRICS_NAMESPACE, COST_METRIC, "ProjectId", project_id]],
            "annotations": {"horizontal": [
                {"label": f"{p} % of budget", "value": round(budget * p / 100, 2)} for p in BUDGET_THRESHOLDS]},
        }},
        {"type": "metric", "x": 0, "y": 6, "width": 24, "height": 6, "properties": {
            "title": "Cost per agent (USD, daily)", "region": region, "stat": "Sum", "period": 86400,
            "metrics": [[{"expression": f"SEARCH('{{{METRICS_NAMESPACE},ProjectId,AgentType}} MetricName=\"InvocationCostUSD\"', 'Sum', 86400)",
                          "id": "per_agent"}]],
        }},
    ]}
