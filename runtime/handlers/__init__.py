"""Thin Lambda handlers: parse the event, call a service from `runtime.pipeline`, map the result.

Services come from `runtime.pipeline.services.get_services()` (built from the environment on first use, cached
for the container's life; the local stack and tests may `set_services` their own)."""
