"""Everything aidlc runs, in AWS or locally: the registry, domain models, adapters, handlers, the agent app, the CLI."""
