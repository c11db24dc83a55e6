"""The Pulumi program: read the stack config, load the agent plugins, build the components, export. Wiring only."""

import pulumi

from runtime.registry import get_registry

registry = get_registry()
pulumi.export("agents", sorted(registry.agents))
