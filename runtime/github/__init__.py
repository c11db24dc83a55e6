"""GitHub behind one small interface: the REST API in AWS, a bare repository on disk offline.

    from runtime.github import GitHubBackend, GitHubRestBackend, LocalGitBackend, GitHubError

The backends are imported on first use: the webhook functions read `runtime.github.backend` (the PR marker) and
their bundle carries neither dulwich nor the REST client's needs.
"""

from typing import Any

from runtime.github.backend import GitHubBackend, GitHubConflict, GitHubError, GitHubNotFound

__all__ = [
    "GitHubBackend",
    "GitHubConflict",
    "GitHubError",
    "GitHubNotFound",
    "GitHubRestBackend",
    "LocalGitBackend",
]


def __getattr__(name: str) -> Any:
    if name == "LocalGitBackend":
        from runtime.github.local import LocalGitBackend

        return LocalGitBackend
    if name == "GitHubRestBackend":
        from runtime.github.rest import GitHubRestBackend

        return GitHubRestBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
