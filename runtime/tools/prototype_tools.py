"""Prototype tools: upload a self-contained bundle under the invocation's prefix, and build a prototype's URL."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.tools.base import ToolContext
from runtime.tools.spec import ToolSpec


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


def upload(context: ToolContext, args: UploadArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_upload")
    return store.upload(args.invocation_id, args.files, variant=args.variant)


def url(context: ToolContext, args: UrlArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_url")
    return {"url": store.url(args.invocation_id, args.path, variant=args.variant)}


TOOLS = [
    ToolSpec("prototype_upload", "Upload a self-contained HTML/CSS/JS prototype and get its shareable URL "
             "(it expires after the configured number of days).", "prototype", UploadArgs, upload),
    ToolSpec("prototype_url", "The shareable URL of an uploaded prototype (or one of its files).", "prototype",
             UrlArgs, url),
]
