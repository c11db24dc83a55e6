"""State: the tables, queues (each with its dead-letter queue) and secrets, declared in runtime/resources.py.

Split from the pipeline functions so the component graph has no cycle: State -> AgentCore (runtimes, gateway)
-> Orchestration (the functions, which need the runtime ARNs). Nothing here needs anything built later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws_rules import dynamodb_tag_value
from components.base import PACKAGE, child, require
from runtime.resources import QUEUES, SECRETS, TABLES, Queue, Table

DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: time to look at what failed
SECRET_PLACEHOLDER = "unset"  # runtime/pipeline/adapters/secrets.py reads it as "no value yet"
SECRET_RECOVERY_DAYS = 7


@dataclass(frozen=True)
class StateArgs:
    name_prefix: str  # physical-name prefix for queues (FIFO queues need an explicit .fifo name)
    # secret logical name -> value (a Pulumi secret); a secret without one gets the placeholder
    secret_values: Mapping[str, pulumi.Input[str] | None] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("State", bool(self.name_prefix), "name_prefix is empty")
        unknown = sorted(set(self.secret_values) - {s.logical_name for s in SECRETS})
        require("State", not unknown, f"secret_values names unknown secrets {unknown}")


class State(pulumi.ComponentResource):
    tables: dict[str, aws.dynamodb.Table]
    queues: dict[str, aws.sqs.Queue]
    dead_letter_queues: dict[str, aws.sqs.Queue]
    secrets: dict[str, aws.secretsmanager.Secret]

    def __init__(self, name: str, args: StateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:State", name, None, opts)
        tags = dict(args.tags)
        self.tables = {t.logical_name: self._table(name, t, tags) for t in TABLES}
        self.dead_letter_queues = {}
        self.queues = {q.logical_name: self._queue(name, args.name_prefix, q, tags) for q in QUEUES}
        self.secrets = {}
        for secret in SECRETS:
            resource = aws.secretsmanager.Secret(
                f"{name}-{secret.logical_name}", description=f"aidlc: {secret.purpose}",
                recovery_window_in_days=SECRET_RECOVERY_DAYS, tags=tags, opts=child(self))
            self.secrets[secret.logical_name] = resource
            value = args.secret_values.get(secret.logical_name)
            if value is not None:
                aws.secretsmanager.SecretVersion(
                    f"{name}-{secret.logical_name}-value", secret_id=resource.id, secret_string=value,
                    opts=child(self))
            else:
                # The placeholder the handlers read as "not configured"; whoever writes the real value later (the
                # webhook for Notion's verification token, an operator otherwise) is not overwritten by `pulumi up`.
                aws.secretsmanager.SecretVersion(
                    f"{name}-{secret.logical_name}-placeholder", secret_id=resource.id,
                    secret_string=SECRET_PLACEHOLDER, opts=child(self, ignore_changes=["secretString"]))

        self.table_names = {k: t.name for k, t in self.tables.items()}
        self.table_arns = {k: t.arn for k, t in self.tables.items()}
        self.queue_urls = {k: q.url for k, q in self.queues.items()}
        self.queue_arns = {k: q.arn for k, q in self.queues.items()}
        self.secret_arns = {k: s.arn for k, s in self.secrets.items()}
        self.register_outputs({
            "table_names": self.table_names,
            "queue_urls": self.queue_urls,
            "dead_letter_queue_arns": {k: q.arn for k, q in self.dead_letter_queues.items()},
            "secret_arns": self.secret_arns,
        })

    def _table(self, name: str, table: Table, tags: dict[str, str]) -> aws.dynamodb.Table:
        purpose = {"aidlc:purpose": dynamodb_tag_value(table.purpose)} if table.purpose else {}
        return aws.dynamodb.Table(
            f"{name}-{table.logical_name}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=table.hash_key,
            range_key=table.range_key,
            attributes=[{"name": attribute, "type": "S"} for attribute in table.attribute_names()],
            global_secondary_indexes=[
                {
                    "name": index.name,
                    "key_schemas": [
                        {"attribute_name": index.hash_key, "key_type": "HASH"},
                        *([{"attribute_name": index.range_key, "key_type": "RANGE"}] if index.range_key else []),
                    ],
                    "projection_type": "ALL",
                }
                for index in table.indexes
            ] or None,
            ttl={"attribute_name": table.ttl_attribute, "enabled": True} if table.ttl_attribute else None,
            server_side_encryption={"enabled": True},
            point_in_time_recovery={"enabled": True},
            tags={**{k: dynamodb_tag_value(v) for k, v in tags.items()}, **purpose},
            opts=child(self),
        )

    def _queue(self, name: str, prefix: str, queue: Queue, tags: dict[str, str]) -> aws.sqs.Queue:
        dlq = aws.sqs.Queue(
            f"{name}-{queue.logical_name}-dlq",
            name=queue.dlq_name(prefix),
            fifo_queue=queue.fifo or None,  # a FIFO queue's DLQ must be FIFO too (SQS refuses the redrive otherwise)
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child(self),
        )
        self.dead_letter_queues[queue.logical_name] = dlq
        return aws.sqs.Queue(
            f"{name}-{queue.logical_name}",
            name=queue.physical_name(prefix),
            fifo_queue=queue.fifo or None,
            # FIFO: the webhook sets a deduplication id per Notion event, so content-based dedup stays off.
            content_based_deduplication=False if queue.fifo else None,
            visibility_timeout_seconds=queue.visibility_timeout_seconds,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": queue.max_receive_count}
            ),
            tags=tags,
            opts=child(self),
        )
