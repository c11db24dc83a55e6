"""Code packaging without Docker: Lambda zips and the AgentCore agent zip, from the project's own code and its
pinned dependencies, cached by content hash.

- Each bundle names its requirement set explicitly (`BUNDLES`); versions come from pyproject.toml's exact pins, so
  a bundle is what the tests ran against. The webhook bundle carries no agent-only package (`AGENT_ONLY`), and
  `build_bundle` refuses to produce one that does, even if a transitive dependency pulled it in.
- Wheels come from `pip install --platform manylinux2014_<arch> --only-binary=:all: --target DIR` (the installer
  is injectable: tests pass an offline one). AgentCore Runtime is arm64, so the agent bundle is always aarch64.
- `plan_bundle` computes the content hash (requirements + platform + every source file) without building; the
  program under mocks (tests, `aidlc infra inventory`) only plans, so nothing touches the network. A real
  `pulumi up` builds, and an unchanged bundle is found in the cache by its hash instead of being rebuilt.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = PROJECT_ROOT / ".aidlc" / "build"  # .aidlc/ is git-ignored
SOURCE_PACKAGES = ("runtime", "agent_plugins")
SOURCE_SUFFIXES = (".py", ".md", ".cedar", ".html", ".css", ".js", ".json")
# Only the agent runtime needs these; a Lambda bundle that carries one fails the build.
AGENT_ONLY = ("strands-agents", "mcp", "bedrock-agentcore", "opentelemetry-api", "opentelemetry-sdk", "uvicorn",
              "starlette")

_LAMBDA_BASE = ("boto3", "pydantic", "aws-lambda-powertools", "python-ulid", "pluggy", "tenacity")
# Requirement sets by bundle. boto3 is bundled (not taken from the Lambda runtime) so `bedrock-agentcore` calls
# work on the version the tests used.
BUNDLES: dict[str, tuple[str, ...]] = {
    "webhook": (*_LAMBDA_BASE, "notion-client", "httpx", "markdown-it-py"),
    "pipeline": (*_LAMBDA_BASE, "notion-client", "httpx", "markdown-it-py"),
    "slack": (*_LAMBDA_BASE, "notion-client", "httpx", "markdown-it-py", "slack-sdk"),
    # playwright: the browser check drives AgentCore Browser over CDP from the tool Lambda (runtime/browser)
    "tools": (*_LAMBDA_BASE, "notion-client", "httpx", "markdown-it-py", "cedarpy", "pathspec", "dulwich",
              "playwright"),
    # the onboarding workflows (Lambda durable functions, python 3.13): the durable SDK, the breakers, cfn-lint for
    # package validation, the tools' registry and Cedar policy, the Slack thread
    "workflows": (*_LAMBDA_BASE, "notion-client", "httpx", "markdown-it-py", "cedarpy", "pathspec", "dulwich",
                  "slack-sdk", "aws-durable-execution-sdk-python", "pybreaker", "cfn-lint", "email-validator"),
    "agent": (*_LAMBDA_BASE, "notion-client", "httpx", "markdown-it-py", "cedarpy", "pathspec", "strands-agents",
              "mcp", "bedrock-agentcore", "starlette", "uvicorn"),
}
# Lambda function (runtime/resources.py FUNCTIONS) -> bundle; functions sharing a bundle share one zip.
FUNCTION_BUNDLES: dict[str, str] = {
    "webhook": "webhook",
    "github_webhook": "webhook",  # the same light bundle: no strands, mcp or agentcore
    "orchestrator": "pipeline",
    "completion": "pipeline",
    "api": "pipeline",
    "reconcile": "pipeline",
    "timeouts": "pipeline",
    "budget_alerts": "pipeline",
    "slack": "slack",  # slack-sdk's signature verifier and Web API client
    "tool_gateway": "tools",
    "sync": "pipeline",  # the content sync: notion-client and markdown-it-py; SQLite FTS5 ships with Python
}
# Workflow function (runtime/resources.py WORKFLOW_FUNCTIONS: durable functions) -> bundle.
WORKFLOW_BUNDLES: dict[str, str] = {"onboarding_workflow": "workflows", "provisioning_workflow": "workflows"}
PYTHON_VERSION = "3.12"
# Bundles whose functions run another Python than PYTHON_VERSION: durable functions run on python3.13 or later.
BUNDLE_PYTHON: dict[str, str] = {"workflows": "3.13"}


class PackagingError(RuntimeError):
    pass


Installer = Callable[[Sequence[str], Path, str, str], None]
"""installer(pinned_requirements, target_dir, pip_platform, python_version) puts packages into target_dir."""


class PipInstaller:
    """The real installer: manylinux wheels only (no sdist builds, no Docker). `extra_args` lets a caller point
    pip at a local wheel folder (`--no-index --find-links DIR`) or a private index."""

    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        self.extra_args = tuple(extra_args)

    def __call__(self, requirements: Sequence[str], target: Path, platform: str, python_version: str) -> None:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
            "--target", str(target), "--platform", platform, "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python_version, *self.extra_args, *requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise PackagingError(
                f"pip could not install {' '.join(requirements)} for {platform}:\n{result.stderr[-2000:]}")


pip_installer = PipInstaller()


def python_version_of(agentcore_runtime: str) -> str:
    """`PYTHON_3_13` (AgentCore's runtime name) -> `3.13` (pip's --python-version)."""
    major, minor = agentcore_runtime.removeprefix("PYTHON_").split("_")
    return f"{major}.{minor}"


def pinned_versions(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> dict[str, str]:
    """`{normalised name: "name==version"}` from pyproject.toml's dependencies (all exact pins)."""
    import tomllib

    data = tomllib.loads(pyproject.read_text())
    pins: dict[str, str] = {}
    for requirement in data["project"]["dependencies"]:
        name = re.split(r"[=<>!~\[ ;]", requirement, maxsplit=1)[0]
        pins[normalise(name)] = requirement.replace(" ", "")
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class BundleSpec:
    name: str
    requirements: tuple[str, ...]  # pinned, e.g. "pydantic==2.14.3"
    platform: str  # pip platform tag, e.g. "manylinux2014_aarch64"
    python_version: str = PYTHON_VERSION
    forbidden: tuple[str, ...] = ()  # distributions that must not end up in the zip
    source_roots: tuple[Path, ...] = field(default_factory=lambda: tuple(PROJECT_ROOT / p for p in SOURCE_PACKAGES))
    plugin_dirs: tuple[Path, ...] = ()  # third-party plugin folders, bundled under plugins/<n>/


def bundle_spec(name: str, *, architecture: str = "arm64", plugin_dirs: Sequence[Path] = (),
                pins: dict[str, str] | None = None, source_roots: Sequence[Path] | None = None,
                python_version: str = PYTHON_VERSION) -> BundleSpec:
    """The spec of one bundle. `python_version` picks the wheels' ABI (cp312...): it must match the runtime."""
    if name not in BUNDLES:
        raise KeyError(f"no bundle named {name!r} (known: {', '.join(BUNDLES)})")
    pins = pins if pins is not None else pinned_versions()
    missing = [r for r in BUNDLES[name] if normalise(r) not in pins]
    if missing:
        raise PackagingError(f"bundle {name!r} needs {missing}, which pyproject.toml does not pin")
    arch = "aarch64" if (name == "agent" or architecture == "arm64") else "x86_64"
    kwargs = {"source_roots": tuple(source_roots)} if source_roots is not None else {}
    return BundleSpec(
        name=name,
        requirements=tuple(sorted(pins[normalise(r)] for r in BUNDLES[name])),
        platform=f"manylinux2014_{arch}",
        python_version=python_version,
        forbidden=() if name == "agent" else AGENT_ONLY,
        plugin_dirs=tuple(Path(p) for p in plugin_dirs),
        **kwargs,
    )


def source_files(spec: BundleSpec) -> list[tuple[str, Path]]:
    """(path in the zip, file on disk) for the project's own code, sorted."""
    files: list[tuple[str, Path]] = []
    for root in spec.source_roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                files.append((f"{root.name}/{path.relative_to(root).as_posix()}", path))
    for index, folder in enumerate(spec.plugin_dirs):
        for path in sorted(Path(folder).glob("*")):
            if path.is_file() and path.suffix in SOURCE_SUFFIXES:
                files.append((f"plugins/{index}/{path.name}", path))
    return files


@dataclass(frozen=True)
class BundlePlan:
    spec: BundleSpec
    content_hash: str
    zip_name: str
    source_files: int

    def zip_path(self, cache_dir: Path = DEFAULT_CACHE) -> Path:
        return Path(cache_dir) / self.zip_name

    @property
    def plugin_dirs_in_bundle(self) -> list[str]:
        return [f"plugins/{i}" for i in range(len(self.spec.plugin_dirs))]


# sha256 of a source file by (path, size, mtime): the program plans every bundle, and the bundles share most of the
# project's files, so each is read once per process, and again only once it has changed.
_FILE_DIGESTS: dict[tuple[str, int, int], bytes] = {}


def _file_digest(path: Path) -> bytes:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        _FILE_DIGESTS[key] = hashlib.sha256(path.read_bytes()).digest()
    return _FILE_DIGESTS[key]


def plan_bundle(spec: BundleSpec, files: Sequence[tuple[str, Path]] | None = None) -> BundlePlan:
    """The bundle's content hash and file name, without building anything. `files`: `source_files(spec)`, when the
    caller has walked them already."""
    digest = hashlib.sha256()
    digest.update("\n".join([spec.name, spec.platform, spec.python_version, *spec.requirements]).encode())
    files = source_files(spec) if files is None else files
    for arcname, path in files:
        digest.update(arcname.encode() + b"\0" + _file_digest(path))
    content_hash = digest.hexdigest()[:16]
    return BundlePlan(spec, content_hash, f"{spec.name}-{content_hash}.zip", len(files))


def plan_bundles(specs: Sequence[BundleSpec]) -> dict[str, BundlePlan]:
    """`plan_bundle` of each spec, by name; specs with the same source roots and plugin folders (all of the
    program's bundles) share one walk of them."""
    walks: dict[tuple[tuple[Path, ...], tuple[Path, ...]], list[tuple[str, Path]]] = {}
    plans: dict[str, BundlePlan] = {}
    for spec in specs:
        walked = (spec.source_roots, spec.plugin_dirs)
        if walked not in walks:
            walks[walked] = source_files(spec)
        plans[spec.name] = plan_bundle(spec, walks[walked])
    return plans


def installed_distributions(folder: Path) -> set[str]:
    """Normalised names of the distributions pip put in `folder` (from their *.dist-info directories)."""
    names = set()
    for info in Path(folder).glob("*.dist-info"):
        names.add(normalise(info.name[: -len(".dist-info")].rsplit("-", 1)[0]))
    return names


def build_bundle(spec: BundleSpec, *, cache_dir: Path = DEFAULT_CACHE, installer: Installer = pip_installer,
                 ) -> Path:
    """Build (or find in the cache) the zip for `spec`. Returns its path."""
    plan = plan_bundle(spec)
    target = plan.zip_path(cache_dir)
    if target.exists():
        return target
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"aidlc-{spec.name}-") as tmp:
        staging = Path(tmp) / "bundle"
        staging.mkdir()
        if spec.requirements:
            installer(spec.requirements, staging, spec.platform, spec.python_version)
        carried = installed_distributions(staging) & {normalise(f) for f in spec.forbidden}
        if carried:
            raise PackagingError(
                f"bundle {spec.name!r} would carry agent-only packages {sorted(carried)}: a dependency pulls them "
                "in; fix the requirement set in components/packaging.py BUNDLES"
            )
        for arcname, path in source_files(spec):
            destination = staging / arcname
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        partial = target.with_suffix(".partial")
        _deterministic_zip(staging, partial)
        partial.replace(target)  # atomic: a crashed build leaves no zip the cache would trust
    return target


def _deterministic_zip(folder: Path, destination: Path) -> None:
    """Sorted entries and a fixed timestamp, so the same inputs give byte-identical zips (stable Lambda hashes)."""
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def zip_members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def source_size_bytes(spec: BundleSpec) -> int:
    return sum(path.stat().st_size for _, path in source_files(spec))
