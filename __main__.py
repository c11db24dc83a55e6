"""The Pulumi program: read the stack config, load the agent plugins, build the components, export. Wiring only.

Everything is in components/ (see components/program.py); the tests and `aidlc infra inventory` run this same
file under Pulumi mocks.
"""

from components.program import build_stack, collect_garbage_less_often, export
from runtime.registry import get_registry
from runtime.stack_config import SECRET_KEYS, from_pulumi_config, secret_value

collect_garbage_less_often()
config = from_pulumi_config()
registry = get_registry()
stack = build_stack(config, registry, secrets={key: secret_value(key) for key in SECRET_KEYS})
export(stack, registry)
