"""Hosted prototypes: a self-contained HTML/CSS/JS bundle uploaded to S3 under `{invocation_id}/`, served by CDN.

In AWS the CDN is CloudFront in front of the bucket; locally it is the local stack's `/prototypes/` route over the
emulated S3. Objects are tagged for expiry (`aidlc:expires=true`, `aidlc:expiry-days=N`); the bucket's lifecycle
rule, filtered on that tag, deletes them. `expires_at` in the result is when that rule will.

With a browser (`checker`, a `runtime.browser.PageChecker`), every upload is first rendered in it: the main page is
opened at its real URL with each request answered from the bundle, and a console error, an uncaught error, a
request outside the bundle or a blank page refuses the upload (`PrototypeCheckError`, nothing written). A page that
passes is uploaded with its PNG screenshot, `SCREENSHOT_FOLDER/<page>.png` under the same prefix, served like the
prototype (`screenshot_url`). `check()` does the same for a page already uploaded (read back from the bucket).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from runtime.models import utcnow

EXPIRY_TAG = "aidlc:expires"
EXPIRY_DAYS_TAG = "aidlc:expiry-days"
INVOCATION_TAG = "aidlc:invocation-id"
MAX_FILES = 200
MAX_BUNDLE_BYTES = 20 * 1024 * 1024
SCREENSHOT_FOLDER = "_aidlc/screenshots"

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# the types a prototype bundle is made of; mimetypes' table varies by machine, so these are pinned
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".woff2": "font/woff2",
}


class PrototypeError(ValueError):
    """Bad upload input (path, size, names); nothing was uploaded."""


class PrototypeCheckError(PrototypeError):
    """The page failed the browser check (its problems are in the message); nothing was uploaded."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def screenshot_path(page: str) -> str:
    return f"{SCREENSHOT_FOLDER}/{page}.png"


def content_type_for(path: str) -> str:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def check_segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SEGMENT.match(value):
        raise PrototypeError(f"invalid {what} {value!r}: letters, digits, '.', '_' and '-' only, no slashes")
    return value


def check_bundle_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise PrototypeError(f"invalid file path {path!r}: use relative paths like 'index.html' or 'css/app.css'")
    return path


class PrototypeStore:
    """Uploads bundles to `bucket` and builds their URLs from `base_url` (CloudFront or the local stack)."""

    def __init__(self, bucket: str, base_url: str, s3_client: Any | None = None, expiry_days: int = 7,
                 checker: Any | None = None) -> None:
        if expiry_days < 1:
            raise ValueError("expiry_days must be at least 1")
        self.bucket = bucket
        self.base_url = base_url.rstrip("/")
        self.expiry_days = expiry_days
        self._s3 = s3_client
        self.checker = checker  # a runtime.browser.PageChecker, or None: uploads are then not rendered

    @cached_property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3  # lazy: importing this module must stay cheap

            self._s3 = boto3.client("s3")
        return self._s3

    def key_prefix(self, invocation_id: str, variant: str | None = None) -> str:
        check_segment(invocation_id, "invocation_id")
        if variant is not None:
            check_segment(variant, "variant")
            return f"{invocation_id}/{variant}/"
        return f"{invocation_id}/"

    def url(self, invocation_id: str, path: str | None = None, variant: str | None = None) -> str:
        prefix = self.key_prefix(invocation_id, variant)
        key = prefix + (check_bundle_path(path) if path else "")
        return f"{self.base_url}/{quote(key)}"

    def upload(
        self, invocation_id: str, files: Mapping[str, str | bytes], variant: str | None = None
    ) -> dict[str, Any]:
        """Upload every file (all validated first: nothing is half-uploaded because of bad input)."""
        prefix = self.key_prefix(invocation_id, variant)
        if not files:
            raise PrototypeError("no files: pass at least {'index.html': '<!doctype html>...'}")
        if len(files) > MAX_FILES:
            raise PrototypeError(f"{len(files)} files is more than the {MAX_FILES} a prototype may have")
        bodies = {check_bundle_path(p): (c.encode("utf-8") if isinstance(c, str) else bytes(c)) for p, c in files.items()}
        total = sum(len(b) for b in bodies.values())
        if total > MAX_BUNDLE_BYTES:
            raise PrototypeError(f"the bundle is {total} bytes, more than {MAX_BUNDLE_BYTES}")
        main = _main_document(list(bodies))
        check = None
        if self.checker is not None and main.lower().endswith((".html", ".htm")):
            root = self.url(invocation_id, variant=variant)
            check = self._render(self.url(invocation_id, main, variant), root, lambda path: bodies.get(path))
            bodies[screenshot_path(main)] = check.screenshot_png
        self._put(invocation_id, prefix, bodies)
        return {
            "url": self.url(invocation_id, main, variant),
            "key_prefix": prefix,
            "s3_key": prefix + main,
            "bucket": self.bucket,
            "files": sorted(prefix + p for p in bodies),
            "expires_at": (utcnow() + timedelta(days=self.expiry_days)).isoformat(),
            "expiry_days": self.expiry_days,
            "variant": variant,
            "screenshot_url": self.url(invocation_id, screenshot_path(main), variant) if check else None,
            "page_check": check.summary() if check else None,
        }

    def check(self, invocation_id: str, path: str | None = None, variant: str | None = None) -> dict[str, Any]:
        """Render an uploaded page (default: `index.html`) from the bucket; upload its screenshot. Raises
        `PrototypeCheckError` when it fails the check, `PrototypeError` when there is no such page."""
        if self.checker is None:
            raise PrototypeError("no browser is configured here to check prototypes with")
        prefix = self.key_prefix(invocation_id, variant)
        page = check_bundle_path(path) if path else "index.html"
        if self._read(prefix + page) is None:
            raise PrototypeError(f"no uploaded page {prefix + page!r}: upload it with prototype_upload first")
        check = self._render(self.url(invocation_id, page, variant), self.url(invocation_id, variant=variant),
                             lambda relative: self._read(prefix + relative))
        self._put(invocation_id, prefix, {screenshot_path(page): check.screenshot_png})
        return {"url": self.url(invocation_id, page, variant),
                "screenshot_url": self.url(invocation_id, screenshot_path(page), variant),
                "page_check": check.summary()}

    def _render(self, url: str, root: str, read: Any) -> Any:
        """Check the page at `url`, answering requests under `root` with `read(relative path) -> bytes | None`."""
        from urllib.parse import unquote, urlsplit

        def serve(request_url: str) -> tuple[bytes, str] | None:
            bare = urlsplit(request_url)._replace(query="", fragment="").geturl()
            if not bare.startswith(root):
                return None
            relative = unquote(bare[len(root):]) or "index.html"
            if relative.endswith("/"):
                relative += "index.html"
            body = read(relative)
            return None if body is None else (body, content_type_for(relative))

        check = self.checker.check(url, serve)
        if not check.ok:
            raise PrototypeCheckError(
                f"the page {url} failed the browser check, so nothing was uploaded: " + "; ".join(check.problems)
                + ". Fix the page and upload the whole bundle again.", check.problems)
        return check

    def _read(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore's ClientError: NoSuchKey (404) means "not in the bundle"
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return None
            raise

    def _put(self, invocation_id: str, prefix: str, bodies: Mapping[str, bytes]) -> None:
        tagging = urlencode(
            {EXPIRY_TAG: "true", EXPIRY_DAYS_TAG: str(self.expiry_days), INVOCATION_TAG: invocation_id}
        )
        for path, body in bodies.items():
            self.s3.put_object(
                Bucket=self.bucket,
                Key=prefix + path,
                Body=body,
                ContentType=content_type_for(path),
                CacheControl="public, max-age=300",
                Tagging=tagging,
            )


def _main_document(paths: list[str]) -> str:
    """`index.html` at the top, else the shallowest .html file, else the first file."""
    html = sorted((p for p in paths if p.lower().endswith((".html", ".htm"))), key=lambda p: (p.count("/"), p != "index.html", p))
    return html[0] if html else sorted(paths)[0]
