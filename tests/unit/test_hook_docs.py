"""Every hook is documented with the signature the plugin manager really has, and every hook has a test.

As datasette's `test_plugin_hooks_are_documented` / `test_plugin_hooks_have_tests`: the hooks and their argument
names come from the plugin manager (`pm.hook.X.spec`), so changing a hook's signature fails here until the
hookspec docstring and the README say the same.
"""

import re
from pathlib import Path

import pytest

from runtime.registry import new_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def hooks():
    pm = new_plugin_manager()
    return {name: caller.spec for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None)}


def signature(spec) -> str:
    """`name(arg, ...) -> Return`, from the spec pluggy holds (argument names) and its function (return type)."""
    returns = spec.function.__annotations__.get("return", "None")
    return f"{spec.name}({', '.join(spec.argnames)}) -> {returns}"


def test_there_are_hooks_to_check():
    assert {"register_agents", "register_tools"} <= set(hooks())


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_docstring_with_its_signature_and_an_example(name):
    spec = hooks()[name]
    doc = spec.function.__doc__ or ""
    assert f"Signature: ``{signature(spec)}``" in doc, f"{name}: the docstring's Signature line is not {signature(spec)}"
    assert "Example::" in doc, f"{name}: no example"
    assert "Returns:" in doc and "Arguments:" in doc, f"{name}: arguments or return undocumented"
    for arg in spec.argnames:
        assert f"``{arg}``" in doc, f"{name}: argument {arg} is not described"


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_is_documented_in_the_readme_with_its_signature(name):
    readme = README.read_text()
    assert re.search(rf"^#+ `{name}`", readme, re.M), f"README has no heading for hook {name}"
    assert f"Signature: `{signature(hooks()[name])}`" in readme, f"README does not show {signature(hooks()[name])}"


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_test(name):
    """A test called `test_hook_<name>...` somewhere under tests/ (tests/unit/test_hooks.py holds them)."""
    pattern = re.compile(rf"^def test_hook_{name}(_\w*)?\(", re.M)
    assert any(pattern.search(path.read_text()) for path in (ROOT / "tests").rglob("test_*.py")), (
        f"no test named test_hook_{name}_... for hook {name}"
    )
