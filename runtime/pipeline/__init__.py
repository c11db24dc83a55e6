"""The pipeline from a Notion trigger to a written-back result: domain services over small adapters.

- `webhook.WebhookService`: verify, normalise, drop our own edits, resolve the agent, enqueue once.
- `orchestrator.OrchestratorService`: record, reserve budget and a concurrency slot atomically, invoke the agent.
- `completion.CompletionService`: record the result, account the cost, write back to Notion, chain.
- `api.ApiService` and `sweepers`: the internal API and the scheduled jobs.

Handlers in `runtime/handlers/` are thin: they parse the Lambda event, call one of these, and map the result.
Services are assembled in `services.py`, from the environment (`PipelineSettings.from_env`) or explicit settings.
"""
