"""At most once per key: Powertools' idempotency on the idempotency table (runtime/resources.py IDEMPOTENCY).

The one construction the Notion webhook and the Slack ingress share: a function wrapped by `once` runs once per
key for `seconds`; a repeat gets the first answer back (or `IdempotencyAlreadyInProgressError` while the first runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.pipeline.adapters import aws


class Idempotency(aws.TableAdapter):
    def __init__(self, table: str, client: Any | None = None) -> None:
        super().__init__(table, client)
        self._configs: list[Any] = []

    def once(self, function: Callable[..., Any], *, argument: str, key: str, seconds: int,
             key_prefix: str) -> Callable[..., Any]:
        """`function`, run at most once per `key` (a JMESPath over the keyword argument `argument`). `key_prefix`
        names the records: Powertools would otherwise key on the module's and function's names, which move with
        code."""
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

        config = IdempotencyConfig(event_key_jmespath=key, expires_after_seconds=seconds)
        self._configs.append(config)
        # One persistence layer per wrapped function: a layer is configured per call with its function's config,
        # and one step may run nested inside another (the webhook's story step inside its event step).
        layer = DynamoDBPersistenceLayer(table_name=self.table_name, boto3_client=self.client)
        return idempotent_function(function, data_keyword_argument=argument, persistence_store=layer, config=config,
                                   key_prefix=key_prefix)

    def register_lambda_context(self, context: Any) -> None:
        """Let Powertools expire an in-progress record when the Lambda invocation would time out."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            for config in self._configs:
                config.register_lambda_context(context)
