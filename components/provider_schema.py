"""Resource inputs against the Pulumi AWS provider's own input types (`pulumi_aws.<module>._inputs`).

The provider refuses a nested field its schema does not declare (a `properties_json` where that level only has
`properties`, say), and botocore's shapes cannot see that: the API behind may well accept the field. This walks the
recorded inputs (camelCase, as on the wire) against the provider's typed `...ArgsDict` classes, from the resource's
`<Name>Args.__init__` down, and names every field the provider does not know.
"""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from components.mockrun import RecordedResource

_NESTED = re.compile(r"ForwardRef\('(\w+?)Args(?:Dict)?'\)")


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


@lru_cache(maxsize=None)
def _fields(module: str, type_name: str, top_level: bool) -> dict[str, str | None] | None:
    """{snake_case field: nested type name or None} for one provider input type, or None if unknown."""
    try:
        if top_level:
            # The resource's own module: a package-level `<Name>Args` may be a nested type of the same name.
            # (Pulumi names it `<Name>InitArgs` then.)
            holder = importlib.import_module(f"pulumi_aws.{module}.{_snake(type_name)}")
            args = getattr(holder, f"{type_name}InitArgs", None) or getattr(holder, f"{type_name}Args")
            hints = args.__init__.__annotations__
        else:
            holder = importlib.import_module(f"pulumi_aws.{module}._inputs")
            hints = getattr(holder, f"{type_name}ArgsDict").__annotations__
    except (ImportError, AttributeError):
        return None
    out: dict[str, str | None] = {}
    for field, hint in hints.items():
        if field == "return":
            continue
        nested = _NESTED.search(repr(hint) if not isinstance(hint, str) else f"ForwardRef('{hint}')")
        out[field] = nested.group(1) if nested else None
    return out


def problems(resource: RecordedResource) -> list[str]:
    """Fields of `resource.inputs` the provider's input types do not declare (path: message)."""
    if not resource.custom or not resource.type.startswith("aws:"):
        return []
    module = resource.type.split(":")[1].split("/")[0]
    module = {"lambda": "lambda_"}.get(module, module)
    type_name = resource.type.rsplit(":", 1)[-1]
    fields = _fields(module, type_name, True)
    if fields is None:
        return [f"{resource.type}: no input types in pulumi_aws.{module}"]
    out: list[str] = []
    _walk(resource.inputs, fields, module, type_name, out)
    return out


def _walk(value: Any, fields: Mapping[str, str | None], module: str, path: str, out: list[str]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, fields, module, f"{path}[{index}]", out)
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        field = next((f for f in (_snake(key), _snake(key) + "_") if f in fields), None)
        if field is None:
            out.append(f"{path}.{key}: not a field of the provider's input type (known: {', '.join(fields)})")
            continue
        nested = fields[field]
        if nested is not None and item is not None:
            nested_fields = _fields(module, nested, False)
            if nested_fields is not None:
                _walk(item, nested_fields, module, f"{path}.{key}", out)
