"""GitHub behind one small interface: the REST API in AWS, a bare repository on disk offline.

    from runtime.github import GitHubBackend, GitHubRestBackend, LocalGitBackend, GitHubError
"""

from runtime.github.backend import GitHubBackend, GitHubConflict, GitHubError, GitHubNotFound
from runtime.github.local import LocalGitBackend
from runtime.github.rest import GitHubRestBackend

__all__ = [
    "GitHubBackend",
    "GitHubConflict",
    "GitHubError",
    "GitHubNotFound",
    "GitHubRestBackend",
    "LocalGitBackend",
]
