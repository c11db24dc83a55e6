"""Markdown <-> Notion blocks, and rich text splitting at Notion's 2,000-character limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.notion.markdown import blocks_to_markdown, markdown_to_blocks, rich_text_plain, split_rich_text

DOCUMENT = """# Checkout delivery estimate

Customers see **when** their order *arrives* before they pay, see [the brief](https://example.com/brief) and `ETA`.

## Acceptance

- Estimate shown before payment
- Updates when the address changes
  - including ~~PO boxes~~ parcel lockers

1. Read the address
2. Ask the carrier
3. Show the date

- [ ] Copy reviewed
- [x] Carrier API chosen

```python
def eta(address):
    return carrier.quote(address)
```

> Ship dates are estimates.

---

### Notes

Plain closing paragraph."""


def test_round_trip_keeps_the_document():
    blocks = markdown_to_blocks(DOCUMENT)
    assert blocks_to_markdown(blocks) == DOCUMENT


def test_blocks_have_notions_types():
    blocks = markdown_to_blocks(DOCUMENT)
    kinds = [b["type"] for b in blocks]
    assert kinds == [
        "heading_1", "paragraph", "heading_2", "bulleted_list_item", "bulleted_list_item",
        "numbered_list_item", "numbered_list_item", "numbered_list_item", "to_do", "to_do", "code", "quote",
        "divider", "heading_3", "paragraph",
    ]
    paragraph = blocks[1]["paragraph"]["rich_text"]
    bold = next(item for item in paragraph if item["text"]["content"] == "when")
    assert bold["annotations"]["bold"] is True and bold["annotations"]["italic"] is False
    link = next(item for item in paragraph if item["text"]["content"] == "the brief")
    assert link["text"]["link"] == {"url": "https://example.com/brief"}
    assert blocks[10]["code"]["language"] == "python"
    nested = blocks[4]["bulleted_list_item"]["children"][0]
    assert nested["type"] == "bulleted_list_item"
    assert blocks[9]["to_do"]["checked"] is True and blocks[8]["to_do"]["checked"] is False


def test_long_text_is_split_not_truncated():
    text = "a" * 4500
    blocks = markdown_to_blocks(text)
    items = blocks[0]["paragraph"]["rich_text"]
    assert [len(item["text"]["content"]) for item in items] == [2000, 2000, 500]
    assert blocks_to_markdown(blocks) == text


def test_code_language_unknown_to_notion_falls_back_to_plain_text():
    [block] = markdown_to_blocks("```brainfuck\n+++\n```")
    assert block["code"]["language"] == "plain text"
    assert blocks_to_markdown([block]) == "```\n+++\n```"


@given(st.text(max_size=5000), st.integers(min_value=1, max_value=2000))
def test_split_rich_text_is_lossless_and_within_the_limit(text, limit):
    items = split_rich_text(text, limit)
    assert rich_text_plain(items) == text
    for item in items:
        assert len(item["text"]["content"].encode("utf-16-le")) // 2 <= max(limit, 2)


def test_tables_become_notion_tables():
    markdown = "| Rating | Mean |\n|---|---|\n| Overall | **4.2** |\n| Clarity \\| tone | 3.9 |"
    [table] = markdown_to_blocks(markdown)
    assert table["type"] == "table" and table["table"]["table_width"] == 2
    rows = table["table"]["children"]
    assert [rich_text_plain(cell) for cell in rows[2]["table_row"]["cells"]] == ["Clarity | tone", "3.9"]
    assert blocks_to_markdown([table]) == markdown
