"""The knowledge base (seed 2.4, 4.6; sprint 4): the S3 data-source bucket the content sync writes documents to,
a Bedrock Knowledge Base over an S3 Vectors index (the cheapest vector store Bedrock KBs take: no cluster to run),
its S3 data source, and the sync function (runtime/resources.py "sync") with its queue mapping.

The KB's service role may read only the data-source bucket, call only the embedding model, and use only its own
vector index; its trust policy is pinned to this account and its knowledge bases (confused deputy). The sync
function's role comes from its declaration like every function's (components/iam.py): the bucket's objects, the
sync-state and projects tables, the kb-sync queue, the Notion token, StartIngestionJob / GetIngestionJob on this KB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.base import PACKAGE, LambdaFunction, LambdaFunctionArgs, check_common, child, keep_private, require
from components.state import State
from runtime.kb.documents import DOCUMENTS_PREFIX
from runtime.resources import FUNCTIONS_BY_NAME, KB_DOCUMENTS, KB_SYNC, Env, PhysicalNames

SYNC_FUNCTION = FUNCTIONS_BY_NAME["sync"]
# Amazon Titan Text Embeddings V2: 1,024 dimensions by default; cosine distance, as Bedrock's quick start uses.
EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
EMBEDDING_DIMENSIONS = 1024
# Bedrock keeps each chunk's text under this metadata key; S3 Vectors filterable metadata is limited to 2 KB per
# vector, so the text must be non-filterable (Bedrock's documented set-up for S3 Vectors indexes).
NON_FILTERABLE_KEYS = ("AMAZON_BEDROCK_TEXT",)
VECTOR_ACTIONS = ("s3vectors:PutVectors", "s3vectors:GetVectors", "s3vectors:DeleteVectors",
                  "s3vectors:QueryVectors", "s3vectors:GetIndex")


@dataclass(frozen=True)
class KnowledgeBaseArgs:
    name_prefix: str
    state: State
    sync_code: pulumi.Input[pulumi.Archive]
    project_config_json: pulumi.Input[str]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    embedding_model_id: str = EMBEDDING_MODEL_ID
    embedding_dimensions: int = EMBEDDING_DIMENSIONS
    log_retention_days: int = 30
    architecture: str = "arm64"
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("KnowledgeBase", bool(self.name_prefix), "name_prefix is empty")
        require("KnowledgeBase", self.sync_code is not None, "no code archive for the sync function")
        require("KnowledgeBase", 1 <= self.embedding_dimensions <= 4096,
                f"embedding_dimensions {self.embedding_dimensions} is not 1..4096 (S3 Vectors' range)")
        check_common("KnowledgeBase", log_retention_days=self.log_retention_days, architecture=self.architecture)


def kb_role_statements(*, bucket_arn: Any, model_arn: Any, index_arn: Any) -> list[dict[str, Any]]:
    """What the knowledge base's service role may do: read the documents, embed them, keep the vectors."""
    return [
        iam.statement("ReadDocuments", ("s3:GetObject",), [pulumi.Output.concat(bucket_arn, "/*")]),
        iam.statement("ListDocuments", ("s3:ListBucket",), [bucket_arn]),
        iam.statement("EmbedDocuments", ("bedrock:InvokeModel",), [model_arn]),
        iam.statement("UseVectorIndex", VECTOR_ACTIONS, [index_arn]),
    ]


class KnowledgeBase(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    knowledge_base: aws.bedrock.AgentKnowledgeBase
    data_source: aws.bedrock.AgentDataSource
    sync_function: LambdaFunction

    def __init__(self, name: str, args: KnowledgeBaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:KnowledgeBase", name, None, opts)
        tags = dict(args.tags)
        state = args.state
        prefix = args.name_prefix.replace("_", "-").lower()

        # --- the data-source bucket: private, encrypted ---------------------------------------------------
        self.bucket = aws.s3.Bucket(f"{name}-documents", force_destroy=True, tags=tags, opts=child(self))
        keep_private(self, self.bucket, f"{name}-documents")

        # --- the vector store: an S3 Vectors bucket and index (SSE-S3 by default) ---------------------------
        self.vector_bucket = aws.s3.VectorsVectorBucket(
            f"{name}-vectors", vector_bucket_name=f"{prefix}-kb-vectors"[:63], force_destroy=True,
            encryption_configurations=[{"sse_type": "AES256"}], tags=tags, opts=child(self))
        self.vector_index = aws.s3.VectorsIndex(
            f"{name}-vector-index", vector_bucket_name=self.vector_bucket.vector_bucket_name,
            index_name="aidlc-pages", data_type="float32", dimension=args.embedding_dimensions,
            distance_metric="cosine",
            metadata_configuration={"non_filterable_metadata_keys": list(NON_FILTERABLE_KEYS)},
            tags=tags, opts=child(self))

        # --- the knowledge base and its role ----------------------------------------------------------------
        model_arn = pulumi.Output.format("arn:aws:bedrock:{0}::foundation-model/{1}", args.region,
                                         args.embedding_model_id)
        self.role = aws.iam.Role(
            f"{name}-kb-role",
            assume_role_policy=pulumi.Output.json_dumps(iam.service_trust_policy(
                "bedrock.amazonaws.com", source_account=args.account_id,
                source_arn_like=pulumi.Output.format("arn:aws:bedrock:{0}:{1}:knowledge-base/*", args.region,
                                                     args.account_id))),
            tags=tags, opts=child(self))
        role_policy = aws.iam.RolePolicy(
            f"{name}-kb-policy", role=self.role.id,
            policy=pulumi.Output.json_dumps(iam.document(kb_role_statements(
                bucket_arn=self.bucket.arn, model_arn=model_arn, index_arn=self.vector_index.index_arn))),
            opts=child(self))
        self.knowledge_base = aws.bedrock.AgentKnowledgeBase(
            f"{name}-kb",
            name=f"{prefix}-pages"[:100],
            description="aidlc: Notion pages synced by the content sync",
            role_arn=self.role.arn,
            knowledge_base_configuration={
                "type": "VECTOR",
                "vector_knowledge_base_configuration": {"embedding_model_arn": model_arn},
            },
            storage_configuration={"type": "S3_VECTORS",
                                   "s3_vectors_configuration": {"index_arn": self.vector_index.index_arn}},
            tags=tags,
            opts=child(self, depends_on=[role_policy]),
        )
        self.data_source = aws.bedrock.AgentDataSource(
            f"{name}-data-source",
            knowledge_base_id=self.knowledge_base.id,
            name=f"{prefix}-notion-pages"[:100],
            description="pages/<page id>.md with their .metadata.json, written by the content sync",
            data_deletion_policy="DELETE",  # a page removed from the bucket leaves the index at the next ingestion
            data_source_configuration={
                "type": "S3",
                "s3_configuration": {"bucket_arn": self.bucket.arn, "inclusion_prefixes": [DOCUMENTS_PREFIX]},
            },
            opts=child(self),
        )

        # --- the sync function ------------------------------------------------------------------------------
        settings: dict[str, Any] = {
            Env.STACK: pulumi.get_stack(),
            Env.PROJECT_CONFIG: args.project_config_json,
            Env.KB_ID: self.knowledge_base.id,
            Env.KB_DATA_SOURCE_ID: self.data_source.data_source_id,
            Env.API_REQUIRE_IAM: "true",
            Env.POWERTOOLS_METRICS_NAMESPACE: iam.METRICS_NAMESPACE,
        }
        names = PhysicalNames(tables=state.table_names, queues=state.queue_urls, secrets=state.secret_arns,
                              buckets={KB_DOCUMENTS.logical_name: self.bucket.bucket}, settings=settings)
        self.sync_function = LambdaFunction(
            f"{name}-sync",
            LambdaFunctionArgs(
                function=SYNC_FUNCTION,
                code=args.sync_code,
                arns=iam.StackArns(tables=state.table_arns, queues=state.queue_arns, secrets=state.secret_arns,
                                   buckets={KB_DOCUMENTS.logical_name: self.bucket.arn},
                                   knowledge_base=self.knowledge_base.arn),
                names=names,
                log_retention_days=args.log_retention_days,
                architecture=args.architecture,
                tags=tags,
            ),
            opts=child(self),
        )
        self.event_source_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-sync-from-{KB_SYNC.logical_name}",
            event_source_arn=state.queue_arns[KB_SYNC.logical_name],
            function_name=self.sync_function.arn,
            batch_size=1,  # one job per invocation: a data source's job may take most of the 300 s
            function_response_types=["ReportBatchItemFailures"],
            opts=child(self),
        )
        self.knowledge_base_id = self.knowledge_base.id
        self.knowledge_base_arn = self.knowledge_base.arn
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"knowledge_base_id": self.knowledge_base.id,
                               "data_source_id": self.data_source.data_source_id,
                               "bucket": self.bucket.bucket, "sync_function": self.sync_function.name})
