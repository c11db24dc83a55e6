"""Prototype tools: upload a self-contained bundle under the invocation's prefix (rendered in a browser first, when
one is configured: see runtime/prototypes.py), check an uploaded page again, and build a prototype's URL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.models import ArtifactType, OutputArtifact, PrototypeMetadata
from runtime.tools.base import ToolContext
from runtime.tools.spec import ArtifactContext, ToolResultModel, ToolSpec


class UploadArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invocation_id: str = Field(min_length=1, description="Your own invocation id: files go under '{invocation_id}/'")
    files: dict[str, str] = Field(
        min_length=1, description="Relative path -> file content, e.g. {'index.html': '<!doctype html>...'}; "
        "self-contained HTML/CSS/JS, no external requests"
    )
    variant: str | None = Field(default=None, description="A/B variant name; files go under '{invocation_id}/{variant}/'")


class UrlArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invocation_id: str = Field(min_length=1, description="The invocation that uploaded the prototype")
    path: str | None = Field(default=None, description="File inside the bundle (default: the folder)")
    variant: str | None = Field(default=None, description="A/B variant name")


class CheckArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invocation_id: str = Field(min_length=1, description="The invocation that uploaded the prototype")
    path: str | None = Field(default=None, description="The page inside the bundle (default: index.html)")
    variant: str | None = Field(default=None, description="A/B variant name")


class PageCheckSummary(ToolResultModel):
    title: str = Field(description="The page's <title>")
    text_excerpt: str = Field(description="The start of the page's visible text, as a visitor reads it")
    width: int = Field(description="The screenshot's width in pixels")
    height: int = Field(description="The screenshot's height in pixels")
    console_errors: list[str]
    page_errors: list[str]
    refused_requests: list[str]
    missing_files: list[str]
    blank: bool


class UploadResult(ToolResultModel):
    url: str = Field(description="The shareable URL of the bundle's main page")
    key_prefix: str
    s3_key: str = Field(description="The main page's object key")
    bucket: str
    files: list[str] = Field(description="Every object key uploaded")
    expires_at: str = Field(description="ISO 8601 time the lifecycle rule removes the bundle")
    expiry_days: int = Field(ge=1)
    variant: str | None = None
    screenshot_url: str | None = Field(default=None, description="A PNG of the main page as the browser showed it "
                                       "(null when no browser is configured here)")
    page_check: PageCheckSummary | None = Field(default=None, description="What the browser saw on the main page")


class CheckResult(ToolResultModel):
    url: str
    screenshot_url: str = Field(description="A PNG of the page as the browser showed it")
    page_check: PageCheckSummary


class UrlResult(ToolResultModel):
    url: str


def upload(context: ToolContext, args: UploadArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_upload")
    return store.upload(args.invocation_id, args.files, variant=args.variant)


def check(context: ToolContext, args: CheckArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_check")
    return store.check(args.invocation_id, args.path, variant=args.variant)


def url(context: ToolContext, args: UrlArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_url")
    return {"url": store.url(args.invocation_id, args.path, variant=args.variant)}


def prototype_artifact(args: UploadArgs, result: UploadResult, run: ArtifactContext) -> OutputArtifact:
    variant = result.variant or args.variant
    return OutputArtifact(
        type=ArtifactType.PROTOTYPE, url=result.url,
        title=f"Prototype{f' variant {variant}' if variant else ''}: {run.request.story.title}",
        metadata=PrototypeMetadata(s3_key=result.s3_key, cloudfront_url=result.url, expiry_days=result.expiry_days,
                                   variant=variant, screenshot_url=result.screenshot_url),
        expires_at=datetime.fromisoformat(result.expires_at.replace("Z", "+00:00")),
    )


TOOLS = [
    ToolSpec("prototype_upload", "Upload a self-contained HTML/CSS/JS prototype and get its shareable URL "
             "(it expires after the configured number of days). The main page is first opened in a real browser: "
             "a console error, an uncaught error, a request outside the bundle or a blank page refuses the upload "
             "with the problems listed; a page that passes comes back with screenshot_url (a PNG) and page_check "
             "(its title and visible text).", "prototype", UploadArgs, upload,
             result_model=UploadResult, artifact=prototype_artifact),
    ToolSpec("prototype_check", "Open an uploaded prototype page in a real browser again (prototype_upload already "
             "checks the main page): fails on console errors, uncaught errors, requests outside the bundle or a "
             "blank page; returns what the page showed and a PNG screenshot URL.", "prototype", CheckArgs, check,
             result_model=CheckResult),
    ToolSpec("prototype_url", "The shareable URL of an uploaded prototype (or one of its files).", "prototype",
             UrlArgs, url, result_model=UrlResult),
]
