"""The names of the built-in tools, with what each takes and returns.

This is the contract between agent plugins (which list the tools they may call) and the tool registry (which
implements them). Plugin validation checks declared tools against these names plus any a plugin registers.
"""

from __future__ import annotations

# name -> one line: arguments => result
BUILTIN_TOOLS: dict[str, str] = {
    # Notion (REST API through notion-client, API version 2025-09-03)
    "notion_search": "query, object_type? ('page'|'data_source') => {results: [{id, object, title, url}]}",
    "notion_read_page": "page_id => {page_id, title, url, properties: {name: plain value}, markdown}",
    "notion_query_data_source": "data_source_id, filter?, sorts?, limit? => {results: [{page_id, title, url, properties}]}",
    "notion_create_page": "title, markdown?, parent_page_id? | parent_data_source_id?, properties? => {page_id, url}",
    "notion_update_page": "page_id, properties?, append_markdown? => {page_id, url}",
    "notion_create_database": "parent_page_id, title, properties (Notion schema) => {database_id, data_source_id, url}",
    "notion_create_comment": "page_id, text, mention_user_ids? => {comment_id}",
    # GitHub (REST API, or the local git remote offline)
    "github_create_branch": "branch, from_branch? => {branch, sha}",
    "github_commit_files": "branch, message, files: {path: content} => {branch, sha, files_changed}",
    "github_create_pull_request": "branch, title, body, base?, draft? => {number, url, branch, repo}",
    "github_read_file": "path, ref? => {path, ref, content}",
    "github_read_pull_request": "number => {number, title, body, branch, base, url, diff, files}",
    "github_comment_pull_request": "number, body => {comment_id, url}",
    # Prototypes (S3 behind CloudFront, or the emulated S3 locally)
    "prototype_upload": "invocation_id, files: {path: content}, variant? => {url, key_prefix, files, expires_at}",
    "prototype_url": "invocation_id, path? => {url}",
    # Analysis
    "feedback_statistics": "data_source_id => {count, ratings: {name: {mean, median, distribution}}, would_use}",
}
