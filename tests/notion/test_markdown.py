"""Markdown <-> Notion blocks, and rich text splitting at Notion's 2,000-character limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.notion.contract import contract
from runtime.notion.markdown import (
    TRUNCATED_MARKER,
    blocks_to_markdown,
    markdown_to_blocks,
    rich_text_plain,
    split_rich_text,
)

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
def test_split_rich_text_is_lossless_when_it_fits_and_always_within_the_limits(text, limit):
    items = split_rich_text(text, limit)
    assert len(items) <= 100
    for item in items:
        assert len(item["text"]["content"].encode("utf-16-le")) // 2 <= max(limit, len(TRUNCATED_MARKER), 2)
    if len(text.encode("utf-16-le")) // 2 <= 99 * limit:
        assert rich_text_plain(items) == text
    else:
        assert text.startswith(rich_text_plain(items[:-1])) and items[-1]["text"]["content"] == TRUNCATED_MARKER.strip()


def test_tables_become_notion_tables():
    markdown = "| Rating | Mean |\n|---|---|\n| Overall | **4.2** |\n| Clarity \\| tone | 3.9 |"
    [table] = markdown_to_blocks(markdown)
    assert table["type"] == "table" and table["table"]["table_width"] == 2
    rows = table["table"]["children"]
    assert [rich_text_plain(cell) for cell in rows[2]["table_row"]["cells"]] == ["Clarity | tone", "3.9"]
    assert blocks_to_markdown([table]) == markdown


def _append_problems(blocks):
    return contract().check_request("PATCH", "blocks/0f3b7c1e5d2a4e8b9a612c7d4e9f1a35/children", None,
                                    {"children": blocks})


def test_a_heavily_formatted_paragraph_becomes_blocks_notion_accepts_and_keeps_every_word():
    words = [f"**w{i}**" if i % 2 else f"w{i}" for i in range(450)]  # 450 alternating items in one paragraph
    blocks = markdown_to_blocks(" ".join(words))
    assert len(blocks) > 1 and all(len(b["paragraph"]["rich_text"]) <= 100 for b in blocks)
    assert "".join(rich_text_plain(b["paragraph"]["rich_text"]) for b in blocks) == " ".join(
        w.strip("*") for w in words)
    assert _append_problems(blocks) == []


def test_a_very_long_code_block_is_split_not_refused():
    code = "\n".join(f"print({i})  # " + "x" * 60 for i in range(4000))  # ~300,000 characters
    blocks = markdown_to_blocks(f"```python\n{code}\n```")
    assert len(blocks) >= 2 and all(b["type"] == "code" and b["code"]["language"] == "python" for b in blocks)
    assert "".join(rich_text_plain(b["code"]["rich_text"]) for b in blocks) == code
    assert all(_append_problems([b]) == [] for b in blocks)


def test_a_heading_with_too_many_formatted_pieces_keeps_its_words_within_100_items():
    heading = "# " + " ".join(f"*a{i}*" for i in range(150))
    [block] = markdown_to_blocks(heading)
    items = block["heading_1"]["rich_text"]
    assert len(items) <= 100
    assert rich_text_plain(items) == " ".join(f"a{i}" for i in range(150))
    assert _append_problems([block]) == []


def test_relative_links_image_paths_and_over_long_urls_are_not_sent_as_links():
    long_url = "https://example.com/" + "a" * 2100
    markdown = (f"See [the spec](docs/spec.md), ![diagram](images/flow.png), [long]({long_url}), "
                "[ok](https://example.com/ok) and ![logo](https://example.com/logo.png).")
    [block] = markdown_to_blocks(markdown)
    items = block["paragraph"]["rich_text"]
    links = [item["text"]["link"]["url"] for item in items if item["text"]["link"]]
    assert links == ["https://example.com/ok", "https://example.com/logo.png"]
    text = rich_text_plain(items)
    assert "the spec (docs/spec.md)" in text and "diagram (images/flow.png)" in text and long_url in text
    assert _append_problems([block]) == []


def test_the_contract_refuses_what_the_old_conversion_sent():
    # What markdown_to_blocks produced before these fixes: Notion refuses each.
    relative = [{"type": "paragraph", "paragraph": {"rich_text": [
        {"type": "text", "text": {"content": "spec", "link": {"url": "docs/spec.md"}}}]}}]
    crowded = [{"type": "paragraph", "paragraph": {"rich_text": [
        {"type": "text", "text": {"content": f"w{i}"}} for i in range(101)]}}]
    assert "Invalid URL for link" in _append_problems(relative)[0]
    assert _append_problems(crowded) == [
        "body failed validation: body.children[0].paragraph.rich_text.length should be ≤ `100`, instead was `101`."]
