"""Prototype tools: upload a self-contained bundle under the invocation's prefix, and build a prototype's URL."""

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


class UploadResult(ToolResultModel):
    url: str = Field(description="The shareable URL of the bundle's main page")
    key_prefix: str
    s3_key: str = Field(description="The main page's object key")
    bucket: str
    files: list[str] = Field(description="Every object key uploaded")
    expires_at: str = Field(description="ISO 8601 time the lifecycle rule removes the bundle")
    expiry_days: int = Field(ge=1)
    variant: str | None = None


class UrlResult(ToolResultModel):
    url: str


def upload(context: ToolContext, args: UploadArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_upload")
    return store.upload(args.invocation_id, args.files, variant=args.variant)


def url(context: ToolContext, args: UrlArgs) -> dict[str, Any]:
    store = context.services.require("prototypes", "prototype_url")
    return {"url": store.url(args.invocation_id, args.path, variant=args.variant)}


def prototype_artifact(args: UploadArgs, result: UploadResult, run: ArtifactContext) -> OutputArtifact:
    variant = result.variant or args.variant
    return OutputArtifact(
        type=ArtifactType.PROTOTYPE, url=result.url,
        title=f"Prototype{f' variant {variant}' if variant else ''}: {run.request.story.title}",
        metadata=PrototypeMetadata(s3_key=result.s3_key, cloudfront_url=result.url, expiry_days=result.expiry_days,
                                   variant=variant),
        expires_at=datetime.fromisoformat(result.expires_at.replace("Z", "+00:00")),
    )


TOOLS = [
    ToolSpec("prototype_upload", "Upload a self-contained HTML/CSS/JS prototype and get its shareable URL "
             "(it expires after the configured number of days).", "prototype", UploadArgs, upload,
             result_model=UploadResult, artifact=prototype_artifact),
    ToolSpec("prototype_url", "The shareable URL of an uploaded prototype (or one of its files).", "prototype",
             UrlArgs, url, result_model=UrlResult),
]
