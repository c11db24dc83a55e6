"""The sandbox tests share the tools tests' fixtures: a local git remote, the default policy, the tool registry."""

from tests.tools.conftest import git, policy, tools  # noqa: F401  (fixtures)
