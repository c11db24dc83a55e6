"""Packaging, offline: the zip builder runs for real, with installers that need no network (the packages of this
virtualenv, or pip itself against a local wheel folder)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib.metadata
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from components import packaging

AGENT_ONLY_MODULES = ("strands/", "mcp/", "bedrock_agentcore/", "uvicorn/", "starlette/")


def venv_installer(requirements: Sequence[str], target: Path, platform: str, python_version: str) -> None:
    """Copy each pinned distribution (code + dist-info) from this virtualenv: what pip would put in --target,
    minus the platform switch (the zip's contents are what is tested, not the wheels' platform tags)."""
    for requirement in requirements:
        name, version = requirement.split("==")
        dist = importlib.metadata.distribution(name)
        assert dist.version == version, f"{name}: venv has {dist.version}, bundle pins {version}"
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            source = Path(dist.locate_file(file))
            if source.is_file():
                destination = target / file
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)


def failing_installer(*_args) -> None:
    raise AssertionError("the cache should have answered; nothing may be installed")


@pytest.fixture(scope="module")
def webhook_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("bundles")
    return packaging.build_bundle(packaging.bundle_spec("webhook"), cache_dir=cache, installer=venv_installer)


def test_webhook_bundle_has_project_code_and_no_agent_only_packages(webhook_zip: Path) -> None:
    spec = packaging.bundle_spec("webhook")
    path = webhook_zip
    members = set(packaging.zip_members(path))
    assert "runtime/resources.py" in members
    assert "runtime/registry.py" in members
    assert "agent_plugins/mock.py" in members and "agent_plugins/prompts/mock.md" in members
    assert any(m.startswith("aws_lambda_powertools/") for m in members)
    assert any(m.startswith("pydantic/") for m in members)
    assert any(m.startswith("notion_client/") for m in members)
    for module in AGENT_ONLY_MODULES:
        assert not any(m.startswith(module) for m in members), module
    assert not any(m.startswith(("components/", "tests/", "bench/")) for m in members)
    assert not any(m.endswith(".pyc") for m in members)
    assert path.name == packaging.plan_bundle(spec).zip_name


def test_agent_bundle_is_aarch64_and_carries_the_agent_stack() -> None:
    spec = packaging.bundle_spec("agent", architecture="x86_64")
    assert spec.platform == "manylinux2014_aarch64"  # AgentCore Runtime is arm64 whatever the Lambdas use
    assert {"strands-agents", "mcp", "bedrock-agentcore"} <= {r.split("==")[0] for r in spec.requirements}
    assert spec.forbidden == ()
    assert packaging.bundle_spec("pipeline", architecture="x86_64").platform == "manylinux2014_x86_64"
    assert all("==" in r for r in spec.requirements)
    assert packaging.python_version_of("PYTHON_3_13") == "3.13"


def test_agent_bundle_follows_the_configured_agentcore_python() -> None:
    from components.program import code_bundles
    from runtime.stack_config import load_stack_config

    config = load_stack_config("dev", packaging.PROJECT_ROOT).model_copy(update={"agent_runtime": "PYTHON_3_13"})
    plans, paths = code_bundles(config, [], build=False)
    assert plans["agent"].spec.python_version == "3.13"
    assert plans["webhook"].spec.python_version == "3.12"  # Lambda's python3.12
    default = code_bundles(load_stack_config("dev", packaging.PROJECT_ROOT), [], build=False)[0]
    assert default["agent"].content_hash != plans["agent"].content_hash  # other wheels, another zip
    assert paths["agent"].name == plans["agent"].zip_name


def test_planning_the_bundles_together_gives_each_its_own_plan() -> None:
    """plan_bundles walks the source roots the bundles share once; each plan is plan_bundle's for that bundle."""
    specs = [packaging.bundle_spec(bundle) for bundle in packaging.BUNDLES]
    assert packaging.plan_bundles(specs) == {spec.name: packaging.plan_bundle(spec) for spec in specs}


def test_lambda_bundle_refuses_agent_only_packages_a_dependency_pulled_in(tmp_path: Path) -> None:
    # The webhook's own rule (forbidden = AGENT_ONLY), over a small requirement set to keep the test quick.
    spec = dataclasses.replace(packaging.bundle_spec("webhook"), requirements=(
        f"python-ulid=={importlib.metadata.version('python-ulid')}",))

    def installer_that_drags_mcp(requirements, target, platform, python_version):
        venv_installer(requirements, target, platform, python_version)
        venv_installer([f"mcp=={importlib.metadata.version('mcp')}"], target, platform, python_version)

    with pytest.raises(packaging.PackagingError, match=r"agent-only packages \['mcp'\]"):
        packaging.build_bundle(spec, cache_dir=tmp_path, installer=installer_that_drags_mcp)
    assert not list(tmp_path.glob("*.zip")), "nothing half-written may stay in the cache"


def test_unchanged_bundle_comes_from_the_cache_and_a_change_rebuilds(tmp_path: Path) -> None:
    source = tmp_path / "src" / "runtime"
    source.mkdir(parents=True)
    (source / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    spec = packaging.BundleSpec(name="tiny", requirements=(), platform="manylinux2014_aarch64",
                                source_roots=(source,))
    first = packaging.build_bundle(spec, cache_dir=tmp_path / "cache", installer=failing_installer)
    again = packaging.build_bundle(spec, cache_dir=tmp_path / "cache", installer=failing_installer)
    assert again == first
    (source / "handler.py").write_text("def handler(event, context):\n    return 2\n")
    changed = packaging.build_bundle(spec, cache_dir=tmp_path / "cache", installer=failing_installer)
    assert changed != first
    with zipfile.ZipFile(changed) as archive:
        assert archive.read("runtime/handler.py").endswith(b"return 2\n")


def test_same_inputs_give_byte_identical_zips(tmp_path: Path) -> None:
    spec = packaging.BundleSpec(name="repeat", requirements=(f"python-ulid=={importlib.metadata.version('python-ulid')}",),
                                platform="manylinux2014_aarch64")
    one = packaging.build_bundle(spec, cache_dir=tmp_path / "a", installer=venv_installer)
    two = packaging.build_bundle(spec, cache_dir=tmp_path / "b", installer=venv_installer)
    assert one.read_bytes() == two.read_bytes()
    assert "runtime/registry.py" in packaging.zip_members(one) and "ulid/__init__.py" in packaging.zip_members(one)


def _write_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, written by hand (no build backend, no network)."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: aidlc-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def test_real_pip_installer_with_platform_flags_against_a_local_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _write_wheel(wheels, "aidlc_fixture", "1.0")
    source = tmp_path / "src" / "runtime"
    source.mkdir(parents=True)
    (source / "app.py").write_text("import aidlc_fixture\n")
    spec = packaging.BundleSpec(name="pipcheck", requirements=("aidlc_fixture==1.0",),
                                platform="manylinux2014_aarch64", source_roots=(source,), forbidden=("mcp",))
    installer = packaging.PipInstaller(["--no-index", "--find-links", str(wheels)])
    path = packaging.build_bundle(spec, cache_dir=tmp_path / "cache", installer=installer)
    members = packaging.zip_members(path)
    assert "aidlc_fixture/__init__.py" in members
    assert "aidlc_fixture-1.0.dist-info/METADATA" in members
    assert "runtime/app.py" in members


def test_real_pip_installer_reports_what_it_could_not_install(tmp_path: Path) -> None:
    spec = packaging.BundleSpec(name="missing", requirements=("aidlc_absent==9.9",), platform="manylinux2014_x86_64",
                                source_roots=())
    installer = packaging.PipInstaller(["--no-index", "--find-links", str(tmp_path)])
    with pytest.raises(packaging.PackagingError, match="aidlc_absent==9.9"):
        packaging.build_bundle(spec, cache_dir=tmp_path / "cache", installer=installer)


def test_every_function_has_a_bundle_and_every_requirement_is_pinned() -> None:
    from runtime.resources import FUNCTIONS

    assert {f.logical_name for f in FUNCTIONS} == set(packaging.FUNCTION_BUNDLES)
    pins = packaging.pinned_versions()
    for bundle, requirements in packaging.BUNDLES.items():
        for requirement in requirements:
            assert packaging.normalise(requirement) in pins, (bundle, requirement)
    assert not set(packaging.BUNDLES["webhook"]) & set(packaging.AGENT_ONLY)


def test_each_bundle_carries_the_code_its_entry_points_name() -> None:
    from runtime.resources import AGENT_APP_ENTRY_POINT, FUNCTIONS

    for function in FUNCTIONS:
        spec = packaging.bundle_spec(packaging.FUNCTION_BUNDLES[function.logical_name])
        module = function.handler.rsplit(".", 1)[0]
        assert f"{module.replace('.', '/')}.py" in {arcname for arcname, _ in packaging.source_files(spec)}, function
    agent_files = {arcname for arcname, _ in packaging.source_files(packaging.bundle_spec("agent"))}
    assert AGENT_APP_ENTRY_POINT in agent_files
    assert any(name.startswith("runtime/policies/") and name.endswith(".cedar") for name in agent_files)
