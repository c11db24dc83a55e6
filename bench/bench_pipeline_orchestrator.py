"""Orchestrator throughput (invocations started per second, the agent invoker answering at once) against raw SQS
receive + delete of the same number of messages, both in-process on moto. Each task costs one DynamoDB
transaction (record + budget + slot) besides a put and an update; moto copies every table a transaction touches
(to roll back), so on moto this figure falls as the invocations table grows, which DynamoDB does not. Run:
.venv/bin/python bench/bench_pipeline_orchestrator.py
"""

from __future__ import annotations

import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                  POWERTOOLS_SERVICE_NAME="bench", POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_TRACE_DISABLED="true")

from moto import mock_aws  # noqa: E402

N = 200


def main() -> None:
    from runtime.models import PageSnapshot, QueueMessage, new_ulid
    from runtime.pipeline.adapters import aws
    from runtime.pipeline.services import set_services
    from tests.pipeline.conftest import build_pipeline, create_aws, make_project

    with mock_aws():
        aws.reset_clients()
        names = create_aws()
        p = build_pipeline(names, make_project(concurrency_limit=100_000, cost_limit_per_invocation=Decimal("1"),
                                               cost_limit_per_month=Decimal("1000000"), agent_chain_template="custom"))
        set_services(p.services)
        try:
            def fill() -> None:
                for i in range(N):
                    p.services.queue.publish(QueueMessage(
                        invocation_id=new_ulid(), workspace_id="ws", notion_page_id=f"page-{i}", agent_type="mock",
                        trigger_value="Generate Prototype", project_id="acme",
                        page_snapshot=PageSnapshot(page_id=f"page-{i}", title=f"Story {i}")))

            fill()
            p.drain(rounds=10)  # warm: clients, registry
            fill()
            start = time.perf_counter()
            p.drain(rounds=N)
            orchestrated = time.perf_counter() - start
            started = len(p.invoker.requests)

            fill()
            sqs, url = aws.client("sqs"), names["queues"]["tasks"]
            start = time.perf_counter()
            received = 0
            while True:
                batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not batch:
                    break
                received += len(batch)
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
            raw = time.perf_counter() - start
        finally:
            set_services(None)
    assert started == 2 * N and received == N, (started, received)
    print(f"orchestrator (record, reserve budget + slot, running, invoke), {N} tasks in batches of 10:")
    print(f"  {N / orchestrated:8.1f} invocations/s")
    print(f"raw SQS receive + delete_message_batch of {N} messages:")
    print(f"  {N / raw:8.1f} messages/s")
    print(f"ratio raw/orchestrator: {(N / raw) / (N / orchestrated):.1f}x (the orchestrator's cost per task)")


if __name__ == "__main__":
    main()
