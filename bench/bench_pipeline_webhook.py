"""Warm webhook latency, in-process against moto, against a bare SQS send_message on the same backend.

The webhook handler here does the whole delivery: signature, idempotency (two DynamoDB conditional writes and
their completion updates), the project lookup, the page fetch and snapshot from the Notion emulator on loopback,
and the FIFO send. The baseline is one `send_message` to the same FIFO queue: the floor any webhook that
enqueues must pay. Run: .venv/bin/python bench/bench_pipeline_webhook.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                  POWERTOOLS_SERVICE_NAME="bench", POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_TRACE_DISABLED="true")

from moto import mock_aws  # noqa: E402  (before any boto3 session)

N = 150


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    from runtime.handlers import webhook
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event
    from runtime.local.notion_emulator import NotionEmulator
    from runtime.local.server import serve
    from runtime.pipeline.adapters import aws
    from runtime.pipeline.services import set_services
    from tests.pipeline.conftest import (TOKEN, NotionEnv, create_aws, event_body, fast_adapter,
                                         make_notion_pipeline, new_story, signed)

    with mock_aws(), tempfile.TemporaryDirectory() as state:
        aws.reset_clients()
        emulator = NotionEmulator(Path(state))
        from runtime.notion.schema import workspace_schema

        seed = emulator.seed_workspace(workspace_schema())
        server = serve(emulator.app)
        try:
            env = NotionEnv(emulator=emulator, server=server, seed=seed,
                            bot=fast_adapter(emulator.integration_token, server.base_url),
                            user=fast_adapter(emulator.user_token, server.base_url))
            names = create_aws()
            p = make_notion_pipeline(names, env)
            p.put_secret("webhook-verification-token", TOKEN)
            stories = [new_story(env, f"Bench story {i}") for i in range(N + 10)]
            bodies = [event_body(s, env=env) for s in stories]
            context = LocalLambdaContext(function_name="webhook")
            events = [http_api_event("POST", "/webhook/notion", headers=signed(b), body=b) for b in bodies]
            for event in events[:10]:  # warm: clients, registry, the adapter's cached bot user
                assert webhook.handler(event, context)["statusCode"] == 200
            webhook_ms = []
            for event in events[10:]:
                start = time.perf_counter()
                result = webhook.handler(event, context)
                webhook_ms.append((time.perf_counter() - start) * 1000)
                assert result["statusCode"] == 200 and b"enqueued" in result["body"].encode()
            sqs = aws.client("sqs")
            queue_url = names["queues"]["tasks"]
            send_ms = []
            for i in range(N):
                start = time.perf_counter()
                sqs.send_message(QueueUrl=queue_url, MessageBody=bodies[i].decode(), MessageGroupId=f"g{i}",
                                 MessageDeduplicationId=f"bench-{i}")
                send_ms.append((time.perf_counter() - start) * 1000)
        finally:
            set_services(None)
            server.stop()

    p50_w, p99_w = statistics.median(webhook_ms), percentile(webhook_ms, 99)
    p50_s, p99_s = statistics.median(send_ms), percentile(send_ms, 99)
    print(f"webhook handler (signed event, fetch + snapshot + idempotency + enqueue), n={N}:")
    print(f"  p50 {p50_w:8.2f} ms   p99 {p99_w:8.2f} ms")
    print(f"bare SQS send_message on the same moto backend, n={N}:")
    print(f"  p50 {p50_s:8.2f} ms   p99 {p99_s:8.2f} ms")
    print(f"ratio webhook/send_message: p50 {p50_w / p50_s:.1f}x   p99 {p99_w / p99_s:.1f}x")


if __name__ == "__main__":
    main()
