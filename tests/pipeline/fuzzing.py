"""Hostile input for the fuzz tests: a valid delivery with one value replaced at any path by a value of any JSON
type, deeply nested JSON, huge integers, lone surrogates, bytes that are not UTF-8, and headers of any kind."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# Any JSON value, small: what replaces a field.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into `value` (dict keys and list indexes), the root excluded."""
    found: list[tuple] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append(prefix + (key,))
        found.extend(paths(item, prefix + (key,)))
    return found


def replaced(value: dict, path: tuple, new: Any) -> dict:
    out = copy.deepcopy(value)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return out


def mutations(base: dict) -> st.SearchStrategy[bytes]:
    """`base` with one value replaced (wrong types at every path), or a key dropped, as JSON bytes."""
    every = paths(base)

    def build(path: tuple, new: Any, drop: bool) -> bytes:
        if drop:
            out = copy.deepcopy(base)
            target = out
            for key in path[:-1]:
                target = target[key]
            del target[path[-1]]
            return json.dumps(out).encode()
        return json.dumps(replaced(base, path, new)).encode()

    return st.builds(build, st.sampled_from(every), json_values, st.booleans())


def nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return ('{"a":' * depth + "1" + "}" * depth).encode()
    return (opener * depth + closer * depth).encode()


hostile_bodies = st.one_of(
    st.builds(nested, st.integers(min_value=1, max_value=200_000), st.sampled_from(["[", "{"])),
    # Integers past Python's 4,300-digit int-string limit, and merely big ones.
    st.builds(lambda n: b'{"id": 1' + b"0" * n + b', "type": "page.created"}', st.integers(0, 10_000)),
    st.builds(lambda s: json.dumps({"id": s, "type": "page.created",
                                    "entity": {"id": s, "type": "page"}}).encode(),
              st.sampled_from(["\ud800", "a\udfffb", "\udbff\udc00x\ud800"])),
    st.just(b'{"type": "page.created", "id": "\\ud800"}'),  # an escaped lone surrogate
    st.binary(max_size=64),  # not UTF-8, not JSON
    st.just(b'{"x": NaN}'), st.just(b'{"x": Infinity}'), st.just(b""), st.just(b"null"), st.just(b"[]"),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
)

header_values = st.text(max_size=80) | st.sampled_from(["", "sha256=", "sha256=" + "0" * 64, "\x00", "é" * 10])


def fuzz_settings(examples: int) -> settings:
    """`examples` inputs, none shrunk (each is cheap, but shrinking a 200,000-deep array is not; a failure prints its
    input) and none kept; the health checks that a function-scoped fixture and huge inputs would trip are off."""
    return settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def assert_refusal(reply: dict) -> None:
    """A refused request is answered with the error shape alone: a code, a message and a remediation."""
    assert set(reply) == {"error"}, reply
    error = reply["error"]
    assert error["code"] and error["message"] and error["remediation"], reply


@contextmanager
def serving(p) -> Iterator:
    """The test pipeline `p` as the handlers' services, every enqueue kept in `p.published` instead of sent."""
    from runtime.pipeline.services import set_services

    p.published = []
    p.services.queue.publish = p.published.append
    set_services(p.services)
    try:
        yield p
    finally:
        set_services(None)
