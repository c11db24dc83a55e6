"""Pulumi ComponentResources for aidlc, and the pure helpers they use (IAM documents, tool schemas, packaging)."""
