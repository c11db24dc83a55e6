"""The mock agent: a story becomes an interactive HTML prototype at a shareable URL."""

import html
import re
from typing import NamedTuple

from runtime.plugins import OFFLINE_LABEL, AgentSpec, ChainRule, Limits, ToolCall, criteria, hookimpl

# --- offline: an interactive page from the story, with sample data it is about --------------------------------


class SampleData(NamedTuple):
    """A small, realistic table for a prototype: what the story is about, with plausible rows."""

    noun: str  # plural, lower case: "invoices"
    columns: tuple[str, str, str, str]  # name, status, a number, a date
    rows: tuple[tuple[str, str, int, str], ...]


# Picked by keywords in the story, so a prototype about invoices shows invoices. First match wins.
_SAMPLE_DATA: tuple[tuple[tuple[str, ...], SampleData], ...] = (
    (("invoice", "billing", "payment", "export", "finance", "csv"), SampleData(
        "invoices", ("Invoice", "Status", "Total (EUR)", "Issued"),
        (("INV-2026-0412 Northwind Traders", "Paid", 12840, "2026-10-02"),
         ("INV-2026-0413 Contoso Ltd", "Overdue", 3120, "2026-10-11"),
         ("INV-2026-0419 Fabrikam Inc", "Paid", 27455, "2026-10-19"),
         ("INV-2026-0427 Tailspin Toys", "Draft", 980, "2026-10-27"),
         ("INV-2026-0433 Wide World Importers", "Sent", 6310, "2026-11-03")))),
    (("order", "cart", "checkout", "shop", "product"), SampleData(
        "orders", ("Order", "Status", "Items", "Placed"),
        (("#10482 Ana Souza", "Shipped", 3, "2026-11-01"), ("#10483 Liam Chen", "Processing", 1, "2026-11-02"),
         ("#10484 Fatima Khan", "Delivered", 5, "2026-11-02"), ("#10485 Jonas Berg", "Cancelled", 2, "2026-11-03"),
         ("#10486 Maya Patel", "Processing", 4, "2026-11-04")))),
    (("ticket", "support", "incident", "bug", "issue"), SampleData(
        "tickets", ("Ticket", "Status", "Age (h)", "Opened"),
        (("SUP-311 Login loop on Safari", "Open", 5, "2026-11-04"), ("SUP-309 CSV has wrong encoding", "Pending", 22, "2026-11-03"),
         ("SUP-305 Slow search results", "Open", 49, "2026-11-02"), ("SUP-298 Typo in welcome email", "Resolved", 96, "2026-10-31"),
         ("SUP-294 Webhook retries twice", "Resolved", 130, "2026-10-30")))),
    (("dashboard", "report", "metric", "chart", "analytics", "kpi"), SampleData(
        "metrics", ("Metric", "Trend", "Value", "Updated"),
        (("Weekly active users", "Up", 18240, "2026-11-03"), ("Conversion rate (bp)", "Flat", 342, "2026-11-03"),
         ("Churned accounts", "Down", 17, "2026-11-02"), ("Support tickets", "Up", 128, "2026-11-02"),
         ("Net revenue (kEUR)", "Up", 412, "2026-11-01")))),
    (("user", "team", "member", "invite", "profile", "login", "sign"), SampleData(
        "people", ("Person", "Status", "Projects", "Last seen"),
        (("Ana Souza", "Active", 4, "2026-11-04"), ("Liam Chen", "Invited", 0, "2026-11-03"),
         ("Fatima Khan", "Active", 7, "2026-11-04"), ("Jonas Berg", "Suspended", 2, "2026-10-21"),
         ("Maya Patel", "Active", 3, "2026-11-02")))),
)
_DEFAULT_SAMPLE = SampleData(
    "accounts", ("Account", "Status", "Widgets", "Updated"),
    (("Northwind Traders", "Active", 128, "2026-10-02"), ("Contoso Ltd", "Pending", 54, "2026-10-11"),
     ("Fabrikam Inc", "Active", 311, "2026-10-19"), ("Tailspin Toys", "Paused", 12, "2026-10-27"),
     ("Wide World Importers", "Active", 87, "2026-11-03")),
)


def sample_data(request) -> SampleData:
    text = f"{request.story.title} {request.story.content_markdown}".lower()
    for keywords, data in _SAMPLE_DATA:
        if any(re.search(rf"\b{keyword}", text) for keyword in keywords):
            return data
    return _DEFAULT_SAMPLE


def prototype_html(request, variant: str | None = None) -> str:
    """A self-contained interactive page: the story's title, each acceptance criterion as a working
    interactive element, and realistic sample data. No external assets."""
    title = html.escape(request.story.title)
    accent = {"A": "#4f46e5", "B": "#0f766e", "C": "#b45309"}.get(variant or "", "#4f46e5")
    items = criteria(request)
    criteria_html = "\n".join(
        f'<li class="criterion" data-index="{i}"><label><input type="checkbox" class="check" data-index="{i}"> '
        f'<span>{html.escape(text)}</span></label><button class="try" data-index="{i}">Try it</button>'
        f'<div class="result" id="result-{i}" hidden>Demonstrated: {html.escape(text)}</div></li>'
        for i, text in enumerate(items)
    )
    data = sample_data(request)
    rows_html = "\n".join(
        f"<tr><td>{html.escape(n)}</td><td><span class=\"pill {s.lower()}\">{s}</span></td>"
        f"<td class=\"num\">{c:,}</td><td>{d}</td></tr>"
        for n, s, c, d in data.rows
    )
    header_html = "".join(f"<th>{html.escape(column)}</th>" for column in data.columns)
    variant_note = f" &middot; Variant {html.escape(variant)}" if variant else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} (prototype)</title>
<style>
  :root {{ --accent: {accent}; }}
  body {{ font-family: system-ui, sans-serif; margin: 0; background: #f8fafc; color: #0f172a; }}
  header {{ background: var(--accent); color: white; padding: 1.25rem 2rem; }}
  header p {{ margin: .25rem 0 0; opacity: .85; font-size: .9rem; }}
  main {{ max-width: 960px; margin: 1.5rem auto; padding: 0 1rem; display: grid; gap: 1.5rem; }}
  section {{ background: white; border-radius: 10px; padding: 1.25rem; box-shadow: 0 1px 3px #0002; }}
  ul.criteria {{ list-style: none; padding: 0; margin: 0; }}
  .criterion {{ display: grid; grid-template-columns: 1fr auto; gap: .5rem; padding: .6rem 0;
               border-bottom: 1px solid #e2e8f0; align-items: center; }}
  .criterion.done span {{ text-decoration: line-through; color: #64748b; }}
  .result {{ grid-column: 1 / -1; background: #ecfdf5; color: #065f46; padding: .4rem .6rem; border-radius: 6px; }}
  button {{ background: var(--accent); color: white; border: 0; border-radius: 6px; padding: .4rem .8rem; cursor: pointer; }}
  table {{ width: 100%; border-collapse: collapse; }}
  th, td {{ text-align: left; padding: .5rem; border-bottom: 1px solid #e2e8f0; }}
  td.num {{ text-align: right; }}
  .pill {{ padding: .1rem .5rem; border-radius: 999px; font-size: .8rem; background: #e2e8f0; }}
  .pill.active, .pill.paid, .pill.up, .pill.delivered, .pill.resolved, .pill.shipped {{ background: #dcfce7; }}
  .pill.pending, .pill.sent, .pill.processing, .pill.invited, .pill.flat, .pill.draft {{ background: #fef9c3; }}
  .pill.paused, .pill.overdue, .pill.down, .pill.cancelled, .pill.suspended, .pill.open {{ background: #fee2e2; }}
  #progress {{ font-weight: 600; }}
  footer {{ text-align: center; color: #64748b; font-size: .8rem; padding: 1rem; }}
</style>
</head>
<body>
<header>
  <h1 id="story-title">{title}</h1>
  <p>Interactive prototype{variant_note} &middot; invocation {html.escape(request.invocation_id)}</p>
</header>
<main>
  <section aria-labelledby="criteria-heading">
    <h2 id="criteria-heading">Acceptance criteria</h2>
    <p id="progress">0 of {len(items)} demonstrated</p>
    <ul class="criteria">
{criteria_html}
    </ul>
  </section>
  <section aria-labelledby="data-heading">
    <h2 id="data-heading">Sample {data.noun} (made-up data)</h2>
    <input id="filter" placeholder="Filter {data.noun}" aria-label="Filter {data.noun}">
    <table id="sample"><thead><tr>{header_html}</tr></thead>
    <tbody>
{rows_html}
    </tbody></table>
  </section>
</main>
<footer>{html.escape(OFFLINE_LABEL)}</footer>
<script>
  const total = {len(items)};
  function refresh() {{
    const done = document.querySelectorAll('.check:checked').length;
    document.getElementById('progress').textContent = done + ' of ' + total + ' demonstrated';
  }}
  document.querySelectorAll('.check').forEach(box => box.addEventListener('change', () => {{
    box.closest('.criterion').classList.toggle('done', box.checked); refresh();
  }}));
  document.querySelectorAll('.try').forEach(btn => btn.addEventListener('click', () => {{
    const i = btn.dataset.index;
    document.getElementById('result-' + i).hidden = false;
    const box = document.querySelector('.check[data-index="' + i + '"]');
    box.checked = true; box.closest('.criterion').classList.add('done'); refresh();
  }}));
  document.getElementById('filter').addEventListener('input', e => {{
    const q = e.target.value.toLowerCase();
    document.querySelectorAll('#sample tbody tr').forEach(tr => {{
      tr.hidden = !tr.textContent.toLowerCase().includes(q);
    }});
  }});
</script>
</body>
</html>
"""


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    upload = yield ToolCall(
        "prototype_upload",
        {"invocation_id": request.invocation_id, "files": {"index.html": prototype_html(request)}},
    )
    return f"Prototype for '{request.story.title}' is live at {upload['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="mock",
            description="Builds a self-contained HTML/CSS/JS prototype of the story and hosts it.",
            triggers=["Generate Prototype"],
            tools=["notion_read_page", "notion_search", "prototype_upload", "prototype_url"],
            outputs=["prototype"],
            completion_status="Prototype Ready",
            chains=[ChainRule(to="demo_deck", template="story-to-mock-to-deck")],
            limits=Limits(max_tokens=200_000, timeout_seconds=3600),
            offline=offline,
        )
    ]
