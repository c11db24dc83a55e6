"""The knowledge base (seed 2.4, 3.3, 4.6): Notion pages synced as markdown documents with metadata, retrieved by
agents through `kb_retrieve`.

    documents.py  a Notion page -> `KbDocument` (markdown, properties, comments, relations; the S3 metadata sidecar)
    sync.py       the incremental sync: jobs, per-page `ingested_at`, the Notion calls it makes
    retrieval.py  the ports: S3 + Bedrock ingestion and Retrieve (AWS, semantic); SQLite FTS5 (local, lexical)
    services.py   the sync function's settings and adapters from its environment

Nothing here runs at import.
"""
