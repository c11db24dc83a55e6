"""Every hook in runtime/hookspecs.py is documented in the README, with its exact signature."""

import inspect
import re
from pathlib import Path

from runtime import hookspecs

README = Path(__file__).resolve().parents[2] / "README.md"


def hook_functions():
    return [
        fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(fn, "aidlc_spec", None) is not None
    ]


def test_there_are_hooks_to_check():
    assert {fn.__name__ for fn in hook_functions()} >= {"register_agents", "register_tools"}


def test_every_hook_has_a_docstring_with_signature_and_example():
    for fn in hook_functions():
        doc = inspect.getdoc(fn) or ""
        assert re.search(r"^Signature: ``.+``$", doc, re.M), f"{fn.__name__}: no 'Signature:' line"
        assert "Example::" in doc, f"{fn.__name__}: no example"
        assert "Returns:" in doc and "Arguments:" in doc, f"{fn.__name__}: arguments or return undocumented"


def test_every_hook_is_documented_in_the_readme_with_its_signature():
    readme = README.read_text()
    for fn in hook_functions():
        assert re.search(rf"^#+ `{fn.__name__}`", readme, re.M), f"README has no heading for hook {fn.__name__}"
        signature = re.search(r"^Signature: ``(.+)``$", inspect.getdoc(fn), re.M).group(1)
        assert signature in readme, f"README does not show the signature of {fn.__name__}: {signature}"
