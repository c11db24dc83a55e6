"""The pipeline's adapters: boto3 clients (`aws`), Secrets Manager (`secrets`), the SQS task queue (`task_queue`),
the agent runtimes (`invoker`: AgentCore, or loopback HTTP locally) and the webhook's idempotency store
(`idempotency`: Powertools on DynamoDB). Each implements a port in `runtime.pipeline.ports`; the domain modules
(webhook, orchestrator, completion, sweepers, api, writeback) import the ports, and `runtime.pipeline.services`
assembles the adapters behind them."""
