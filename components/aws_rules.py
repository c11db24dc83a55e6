"""AWS rules that botocore's service models do not carry but the services enforce, each with its source.

Checks over the mock-recorded resources (`components.mockrun.Recording`, inputs camelCase as on the wire); each
returns `components.checks.Violation`s. The helpers here (`dynamodb_tag_value`, `autoname`) are what the
components use to stay inside the same rules.
"""

from __future__ import annotations

import re

# DynamoDB tags: "Allowed characters: Unicode letters, whitespace, numbers, and + - = . _ : /"; keys at most 128,
# values at most 256 characters (Amazon DynamoDB Developer Guide, "Tagging restrictions in DynamoDB").
DYNAMODB_TAG_CHARS = re.compile(r"^[\w\s+\-=.:/]*$")
DYNAMODB_TAG_KEY_MAX, DYNAMODB_TAG_VALUE_MAX = 128, 256


def dynamodb_tag_value(text: str) -> str:
    """`text` as a DynamoDB tag value: each refused character becomes a space, runs of spaces collapse."""
    cleaned = re.sub(r"[^\w\s+\-=.:/]", " ", text)
    return re.sub(r"\s+", " ", cleaned).strip()[:DYNAMODB_TAG_VALUE_MAX]
