"""`aidlc plugin new NAME` makes a package that works: pip builds and installs it (prompt included as package data),
the registry finds it through its entry point, and its own generated tests pass, offline run included."""

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from runtime.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_a_scaffolded_plugin_installs_loads_and_passes_its_own_tests(tmp_path):
    # ~10 s (40 s on a busy machine): one real wheel build by pip and one offline agent run; that is the proof.
    created = CliRunner().invoke(app, ["plugin", "new", "glossary", "--dir", str(tmp_path),
                                       "--trigger", "Write Glossary"])
    assert created.exit_code == 0, created.output
    package = tmp_path / "aidlc-glossary"
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(package)], check=True, capture_output=True, timeout=300)
    assert (site / "aidlc_glossary" / "prompts" / "glossary.md").is_file()  # package data made it into the install

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
                            cwd=package, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_bad_names_and_a_used_folder_are_refused(tmp_path):
    bad = CliRunner().invoke(app, ["plugin", "new", "Glossary Bot", "--dir", str(tmp_path)])
    assert bad.exit_code == 1 and "not a valid agent name" in bad.output
    assert not any(tmp_path.iterdir())
    assert CliRunner().invoke(app, ["plugin", "new", "glossary", "--dir", str(tmp_path)]).exit_code == 0
    again = CliRunner().invoke(app, ["plugin", "new", "glossary", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output
