"""The mock agent: a story becomes an interactive HTML prototype at a shareable URL."""

import html
import json
import re
from typing import NamedTuple

from runtime.plugins import OFFLINE_LABEL, AgentSpec, ChainRule, Limits, ToolCall, criteria, hookimpl

# --- offline: reading the story --------------------------------------------------------------------------------
# The offline prototype and deck are made from the story's own words: who it is for, what they want to do, the
# thing they work with (its nouns) and its acceptance criteria. No LLM: a few patterns for the shapes stories
# usually take ("As a <role>, I want to <action> so that <benefit>", "<Role>s can <action>", "<Role> <verb>s
# <object>", a bare noun phrase), with a plain fallback so every story gets grammatical sentences.

_ARTICLES = {"a", "an", "the", "all", "any", "my", "our", "their", "his", "her", "its", "each", "every", "some",
             "which", "whether", "new", "current", "available", "nearest", "open", "list", "of", "own"}
# words that name a view of a thing rather than the thing: "ambulance availability" is about ambulances
_GENERIC = {"availability", "status", "statuses", "list", "lists", "details", "detail", "overview", "history",
            "data", "information", "info", "page", "screen", "view", "map", "dashboard", "table", "panel",
            "summary", "way", "option", "options", "button", "feature", "app", "system", "tool", "prototype",
            "it", "them", "this", "that", "things", "something"}
_PREPOSITIONS = {"as", "by", "in", "on", "for", "with", "to", "from", "of", "when", "that", "so", "at", "into",
                 "within", "without", "before", "after", "per", "via", "and", "or", "if", "while", "than"}
_MASS_ROLES = {"finance", "support", "sales", "marketing", "staff", "management", "everyone", "hr", "legal", "it",
               "operations", "security", "engineering"}
_NOT_VERBS = {"is", "has", "was", "does", "this", "its", "his", "process", "access", "status", "analysis", "news"}


class Story(NamedTuple):
    """What a story says, read for the offline artifacts. `action` starts with a verb in its base form."""

    role: str  # "dispatcher", "users", "finance"; "" when the story names no one
    action: str  # "see ambulance availability"; "" for a bare noun-phrase title
    benefit: str  # "they can send the nearest ambulance" (pronouns turned to the third person), or ""
    entity: str  # singular, lower case: "ambulance", "invoice"
    title: str


def _plural(word: str) -> str:
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|sh|ch|x|z)$", word):
        return word + "es"
    return word + "s"


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(sses|shes|ches|xes|zes)$", word):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _base_verb(word: str) -> str:
    """The base form of a third-person verb: sees -> see, watches -> watch, carries -> carry."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(sses|shes|ches|xes|zes|oes)$", word):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def _third_person(text: str) -> str:
    swaps = {"i": "they", "me": "them", "my": "their", "mine": "theirs", "myself": "themselves", "am": "are",
             "we": "they", "us": "them", "our": "their", "i'm": "they're"}
    return re.sub(r"\b(i'm|i|me|my|mine|myself|am|we|us|our)\b", lambda m: swaps[m.group(1).lower()], text,
                  flags=re.IGNORECASE)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".!;:").strip()


def _entity_from(phrase: str) -> str:
    words = re.findall(r"[a-z][a-z'-]*", phrase.lower())
    if words and words[0] not in _ARTICLES and words[0] not in _GENERIC:
        words = words[1:]  # the verb
    chunks: list[list[str]] = [[]]
    for word in words:
        if word in _PREPOSITIONS:
            chunks.append([])
        else:
            chunks[-1].append(word)
    for chunk in chunks:
        nouns = [w for w in chunk if w not in _ARTICLES and w not in _GENERIC and len(w) > 2]
        if nouns:
            return _singular(nouns[-1] if chunk and chunk[-1] not in _GENERIC else nouns[0])
    return ""


def read_story(request) -> Story:
    title = _clean(request.story.title) or "Untitled story"
    first_line = next((line for line in (request.story.content_markdown or "").splitlines()
                       if re.match(r"\s*as an? ", line, re.IGNORECASE)), "")
    role = action = benefit = ""
    for text in (title, _clean(first_line.lstrip("#>*- "))):
        match = re.match(r"as an? (?P<role>[^,]+?),? i (?:want|need|would like|wish) (?:to )?(?P<action>.+?)"
                         r"(?:,? so (?:that )?(?P<benefit>.+))?$", text, re.IGNORECASE)
        if match:
            role, action, benefit = match["role"], match["action"], match["benefit"] or ""
            break
        match = re.match(r"(?:the |all )?(?P<role>[a-z][\w ]{0,30}?) (?:can|could|should be able to|must be able "
                         r"to|are able to|is able to|may|will be able to) (?P<action>.+)$", text, re.IGNORECASE)
        if match:
            role, action = match["role"], match["action"]
            break
        match = re.match(r"(?:the |a |an )?(?P<role>[a-z]+) (?P<verb>[a-z]{3,}s) (?P<rest>.+)$", text, re.IGNORECASE)
        if match and match["verb"].lower() not in _NOT_VERBS and not match["verb"].lower().endswith(("ss", "us")):
            role, action = match["role"], f"{_base_verb(match['verb'].lower())} {match['rest']}"
            break
    role = _clean(role).lower()
    action = _clean(action)
    if action:
        action = action[0].lower() + action[1:]
    benefit = _third_person(_clean(benefit))
    entity = _entity_from(action) if action else ""
    if not entity:
        entity = _entity_from("x " + title) or _entity_from("x " + " ".join(request.story.acceptance_criteria)) or "item"
    return Story(role=role, action=action, benefit=benefit, entity=entity, title=title)


def _with_article(role: str) -> str:
    if not role or role in _MASS_ROLES or (role.endswith("s") and not role.endswith("ss")):
        return role
    vowel = role[0] in "aeio" or (role[0] == "u" and not role.startswith(("us", "uni", "ut", "ur", "eu")))
    return ("an " if vowel else "a ") + role


def _sentence(text: str) -> str:
    text = _clean(text)
    return (text[0].upper() + text[1:] + ".") if text else ""


def problem_sentences(story: Story) -> list[str]:
    """Who struggles with what today, in whole sentences."""
    who = _with_article(story.role) or "people"
    if story.action:
        lines = [_sentence(f"Today it is hard for {who} to {story.action}")]
    else:
        lines = [_sentence(f"Today there is no {story.title[0].lower() + story.title[1:]}, so {who} piece the "
                           f"picture together by hand")]
    if story.benefit:
        lines.append(_sentence(f"They need this so that {story.benefit}"))
    return lines


def solution_sentence(story: Story) -> str:
    who = _with_article(story.role) or "anyone on the team"
    if story.action:
        return _sentence(f"With this change, {who} can {story.action}")
    return _sentence(f"This change brings the {story.title[0].lower() + story.title[1:]} to {who}")


# --- offline: sample data drawn from the story ----------------------------------------------------------------


class SampleData(NamedTuple):
    """A small table of the thing the story is about, with statuses and a number that its criteria act on."""

    noun: str  # plural, lower case: "ambulances"
    entity: str  # singular: "ambulance"
    columns: tuple[str, str, str, str]  # name, status, the number, a date
    rows: tuple[tuple[str, str, int, str], ...]
    statuses: tuple[str, ...]
    metric: str  # "response time", "total"
    unit: str  # "minutes", "EUR", ""
    threshold: float | None  # from a criterion like "warn when the response time is more than 8 minutes"
    above: bool  # the warning holds above the threshold (False: below it)


_PLACES = ("Riverside", "Old Town", "Harbour", "Hillcrest", "Market Square", "North Gate")
_COMPANIES = ("Northwind Traders", "Contoso Ltd", "Fabrikam Inc", "Tailspin Toys", "Wide World Importers",
              "Alpine Ski House")
_PEOPLE = ("Ana Souza", "Liam Chen", "Fatima Khan", "Jonas Berg", "Maya Patel", "Kofi Mensah")
# (keywords in the story, statuses, metric, unit, values, names): first match wins. The thing itself (its noun,
# the row codes) always comes from the story; the domain only lends plausible statuses, numbers and names.
_DOMAINS = (
    (("availab", "free", "busy", "on duty", "dispatch", "ambulance", "driver", "vehicle", "crew", "room", "desk"),
     ("Available", "On a call", "Off duty"), "distance", "km", (2, 7, 4, 12, 1, 9), _PLACES),
    (("invoice", "billing", "payment", "finance", "refund"), ("Paid", "Overdue", "Draft"), "total", "EUR",
     (1280, 312, 2745, 98, 631, 1540), _COMPANIES),
    (("order", "cart", "checkout", "shipment", "delivery", "parcel"), ("Processing", "Shipped", "Delivered"),
     "items", "", (3, 1, 5, 2, 4, 1), _PEOPLE),
    (("ticket", "support", "incident", "bug", "issue", "complaint"), ("Open", "Pending", "Resolved"), "age", "hours",
     (5, 22, 49, 96, 2, 130), _COMPANIES),
    (("user", "team", "member", "invite", "profile", "account", "login"), ("Active", "Invited", "Suspended"),
     "projects", "", (4, 0, 7, 2, 3, 1), _PEOPLE),
)
_DEFAULT_DOMAIN = (("Active", "Pending", "Closed"), "count", "", (12, 4, 27, 9, 18, 6), _PLACES)
_STATUS_WORDS = ("available", "busy", "offline", "online", "overdue", "paid", "unpaid", "late", "urgent", "open",
                 "closed", "pending", "active", "inactive", "expired", "delayed", "blocked", "failed", "draft",
                 "approved", "rejected", "cancelled", "shipped", "delivered", "resolved", "new")
_DATES = ("2026-11-04", "2026-11-03", "2026-10-29", "2026-11-02", "2026-10-21", "2026-11-04", "2026-11-01")
_MORE = r"(?:more|greater|longer|higher|later|bigger|larger|over|above|exceeds?|exceeding|beyond)"
_LESS = r"(?:less|fewer|lower|shorter|smaller|under|below|beneath)"
_THRESHOLD = re.compile(rf"\b(?P<dir>{_MORE}|{_LESS})\s+(?:than\s+)?(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>%|[a-z]+)?",
                        re.IGNORECASE)
_AUX = {"is", "are", "gets", "get", "goes", "go", "rises", "rise", "takes", "take", "becomes", "become", "was",
        "be", "been", "falls", "fall", "drops", "drop", "stays", "has", "have"}
_LEADS = {"when", "if", "whose", "where", "the", "its", "their", "a", "an", "once", "his", "her", "whenever"}


def _threshold(items: list[str]) -> tuple[str, str, float, bool] | None:
    """(metric, unit, value, above) from the first criterion that compares a number."""
    for text in items:
        match = _THRESHOLD.search(text)
        if not match:
            continue
        before = re.findall(r"[a-z][a-z'-]*", text[: match.start()].lower())
        while before and before[-1] in _AUX:
            before.pop()
        metric: list[str] = []
        for word in reversed(before):
            if word in _LEADS or word in _PREPOSITIONS or len(metric) == 3:
                break
            metric.insert(0, word)
        unit = (match["unit"] or "").lower()
        if unit in _PREPOSITIONS or unit in _AUX or unit in ("and", "or"):
            unit = ""
        above = not re.fullmatch(_LESS, match["dir"], re.IGNORECASE)
        return " ".join(metric) or "value", unit, float(match["n"]), above
    return None


def _code(entity: str) -> str:
    letters = re.sub(r"[^a-z]", "", entity)
    return (letters[:3] or "itm").upper()


def sample_data(request) -> SampleData:
    story = read_story(request)
    items = story_criteria(request)
    text = f"{request.story.title} {request.story.content_markdown} {' '.join(items)}".lower()
    statuses, metric, unit, values, names = _DEFAULT_DOMAIN
    for keywords, *domain in _DOMAINS:
        if any(keyword in text for keyword in keywords):
            statuses, metric, unit, values, names = domain
            break
    named = [word.capitalize() for word in _STATUS_WORDS if re.search(rf"\b{word}\b", " ".join(items).lower())]
    statuses = tuple(dict.fromkeys([*named, *statuses]))[:3]
    found = _threshold(items)
    threshold, above = None, True
    if found:
        metric, unit, threshold, above = found[0], found[1] or unit, found[2], found[3]
        factors = (0.5, 1.5, 0.75, 2.0, 0.25, 1.25)
        values = tuple(max(1, round(threshold * f)) for f in factors)
    pattern = (0, 1, 0, 2, 0, 1)
    code = _code(story.entity)
    rows = tuple(
        (f"{code}-{101 + i} {names[i]}", statuses[pattern[i] % len(statuses)], values[i], _DATES[i])
        for i in range(6)
    )
    label = story.entity.capitalize()
    number = f"{metric.capitalize()} ({unit})" if unit else metric.capitalize()
    return SampleData(noun=_plural(story.entity), entity=story.entity, columns=(label, "Status", number, "Updated"),
                      rows=rows, statuses=statuses, metric=metric, unit=unit, threshold=threshold, above=above)


# --- offline: each criterion demonstrated by an element that does what it says ---------------------------------

_PAST = {"dispatch": "Dispatched", "send": "Sent", "assign": "Assigned", "approve": "Approved", "cancel": "Cancelled",
         "close": "Closed", "pay": "Paid", "confirm": "Confirmed", "accept": "Accepted", "reject": "Rejected",
         "update": "Updated", "edit": "Edited", "change": "Changed", "move": "Moved", "book": "Booked",
         "archive": "Archived", "publish": "Published", "schedule": "Scheduled", "reserve": "Reserved"}
_KINDS: tuple[tuple[str, str], ...] = (
    ("export", r"\b(export|download|pdf|csv|spreadsheet|print)"),
    ("warn", r"\b(warn|alert|warning|flag|highlight|notif|mark|red|remind)"),
    ("date", r"\b(date range|dates?|between|period|since|last \d+ days|this week|this month)\b"),
    ("filter", r"\b(filter|only|narrow|search|find|hide)"),
    ("sort", r"\b(sort|order by|nearest|closest|fastest|cheapest|rank|top|first|largest|highest|lowest)"),
    ("add", r"\b(add|create|new|invite|register|submit)"),
    ("change", r"\b(" + "|".join(_PAST) + r")(e?s|e?d|ing)?\b"),
)


def demo_for(text: str, data: SampleData) -> dict:
    """What clicking the criterion's button does, as data for the page's script."""
    lower = text.lower()
    kind = next((name for name, pattern in _KINDS if re.search(pattern, lower)), "summary")
    status = next((s for s in data.statuses if re.search(rf"\b{re.escape(s.lower())}\b", lower)), None)
    demo: dict = {"kind": kind}
    if kind == "export":
        fmt = "PDF" if "pdf" in lower else "CSV"
        demo.update(format=fmt, label=f"Export the {data.noun} as {fmt}")
    elif kind == "warn":
        if data.threshold is not None and _THRESHOLD.search(text):
            demo.update(rule="threshold", label="Check the warning rule")
        else:
            demo.update(rule="status", status=status or data.statuses[min(1, len(data.statuses) - 1)],
                        label="Check the warning rule")
    elif kind == "date":
        demo.update(days=7, label="Show the last 7 days")
    elif kind == "filter":
        chosen = status or data.statuses[0]
        demo.update(status=chosen, label=f"Show only {chosen.lower()} {data.noun}")
    elif kind == "sort":
        descending = bool(re.search(r"\b(largest|highest|top|most)", lower))
        demo.update(descending=descending, label=f"Sort by {data.metric}")
    elif kind == "add":
        demo.update(label=f"Add a {data.entity}")
    elif kind == "change":
        verb = next(v for v in _PAST if re.search(rf"\b{v}(e?s|e?d|ing)?\b", lower))
        demo.update(to=_PAST[verb], label=f"{verb.capitalize()} the first {data.entity}")
    else:
        demo.update(label=f"Show the {data.noun}")
    return demo


def story_criteria(request) -> list[str]:
    """The story's acceptance criteria, or, when it lists none, one sentence made from what the story asks for."""
    if request.story.acceptance_criteria:
        return criteria(request)
    story = read_story(request)
    who = (_with_article(story.role) or "the user").capitalize()
    return [_clean(f"{who} can {story.action}") if story.action else
            _clean(f"{who} can see the {data_noun_phrase(story)}")]


def data_noun_phrase(story: Story) -> str:
    return story.title[0].lower() + story.title[1:] if story.title else _plural(story.entity)


def _json_for_script(value) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def prototype_html(request, variant: str | None = None) -> str:
    """A self-contained interactive page: the story's title, each acceptance criterion with a button that
    demonstrates it on sample data drawn from the story (a filter filters, a warning appears when its condition
    holds, an export makes a file), and a free-text filter. No external assets."""
    story = read_story(request)
    title = html.escape(request.story.title)
    accent = {"A": "#4f46e5", "B": "#0f766e", "C": "#b45309"}.get(variant or "", "#4f46e5")
    items = story_criteria(request)
    data = sample_data(request)
    demos = [demo_for(text, data) for text in items]
    criteria_html = "\n".join(
        f'<li class="criterion" data-index="{i}" data-kind="{demo["kind"]}"><label><input type="checkbox" '
        f'class="check" data-index="{i}"> <span>{html.escape(text)}</span></label>'
        f'<button class="try" data-index="{i}">{html.escape(demo["label"])}</button>'
        f'<div class="result" id="result-{i}" role="status" hidden></div></li>'
        for i, (text, demo) in enumerate(zip(items, demos))
    )
    rows_html = "\n".join(
        f'<tr data-name="{html.escape(n)}" data-status="{html.escape(s)}" data-value="{c}" data-date="{d}">'
        f'<td>{html.escape(n)}</td><td><span class="pill s{data.statuses.index(s)}">{html.escape(s)}</span></td>'
        f'<td class="num">{c:,}</td><td>{d}</td></tr>'
        for n, s, c, d in data.rows
    )
    header_html = "".join(f"<th>{html.escape(column)}</th>" for column in data.columns)
    variant_note = f" &middot; Variant {html.escape(variant)}" if variant else ""
    who = html.escape(_with_article(story.role).capitalize() if story.role else "The team")
    lead = html.escape(solution_sentence(story))
    config = {"noun": data.noun, "entity": data.entity, "code": _code(data.entity), "statuses": list(data.statuses),
              "metric": data.metric, "unit": data.unit, "threshold": data.threshold, "above": data.above,
              "demos": demos, "today": "2026-11-04"}
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{lead}">
<title>{title} (prototype)</title>
<style>
  :root {{ --accent: {accent}; }}
  body {{ font-family: system-ui, sans-serif; margin: 0; background: #f8fafc; color: #0f172a; }}
  header {{ background: var(--accent); color: white; padding: 1.25rem 2rem; }}
  header p {{ margin: .25rem 0 0; opacity: .9; font-size: .9rem; }}
  .tag {{ display: inline-block; background: #fff3; border-radius: 999px; padding: .1rem .6rem; font-size: .75rem; }}
  main {{ max-width: 960px; margin: 1.5rem auto; padding: 0 1rem; display: grid; gap: 1.5rem; }}
  section {{ background: white; border-radius: 10px; padding: 1.25rem; box-shadow: 0 1px 3px #0002; }}
  ul.criteria {{ list-style: none; padding: 0; margin: 0; }}
  .criterion {{ display: grid; grid-template-columns: 1fr auto; gap: .5rem; padding: .6rem 0;
               border-bottom: 1px solid #e2e8f0; align-items: center; }}
  .criterion.done span {{ color: #475569; }}
  .result {{ grid-column: 1 / -1; background: #ecfdf5; color: #065f46; padding: .4rem .6rem; border-radius: 6px; }}
  .result.warning, .warning {{ background: #fef2f2; color: #991b1b; }}
  button {{ background: var(--accent); color: white; border: 0; border-radius: 6px; padding: .4rem .8rem; cursor: pointer; }}
  button:focus-visible, input:focus-visible {{ outline: 3px solid #f59e0b; outline-offset: 2px; }}
  table {{ width: 100%; border-collapse: collapse; }}
  th, td {{ text-align: left; padding: .5rem; border-bottom: 1px solid #e2e8f0; }}
  td.num {{ text-align: right; }}
  tr.flagged td {{ background: #fef2f2; }}
  tr.flagged td:first-child::before {{ content: "\\26A0\\FE0F  "; }}
  .pill {{ padding: .1rem .5rem; border-radius: 999px; font-size: .8rem; background: #e2e8f0; }}
  .pill.s0 {{ background: #dcfce7; }} .pill.s1 {{ background: #fef9c3; }} .pill.s2 {{ background: #fee2e2; }}
  #progress {{ font-weight: 600; }}
  #export-link {{ display: inline-block; margin-top: .5rem; }}
  footer {{ text-align: center; color: #64748b; font-size: .8rem; padding: 1rem; }}
</style>
</head>
<body>
<header>
  <h1 id="story-title">{title}</h1>
  <p>{lead} <span class="tag">Prototype{variant_note} &middot; sample data</span></p>
</header>
<main>
  <section aria-labelledby="criteria-heading">
    <h2 id="criteria-heading">Try each acceptance criterion</h2>
    <p id="progress">0 of {len(items)} demonstrated</p>
    <ul class="criteria">
{criteria_html}
    </ul>
  </section>
  <section aria-labelledby="data-heading">
    <h2 id="data-heading">{html.escape(data.noun.capitalize())} <small>(made-up sample data)</small></h2>
    <p>{who} sees these {html.escape(data.noun)}. <label for="filter">Filter:</label>
    <input id="filter" placeholder="Type to filter {html.escape(data.noun)}"></p>
    <table id="sample"><thead><tr>{header_html}</tr></thead>
    <tbody>
{rows_html}
    </tbody></table>
    <div id="export-area"></div>
  </section>
</main>
<footer>{html.escape(OFFLINE_LABEL)}</footer>
<script>
(() => {{
  const CONFIG = {_json_for_script(config)};
  const tbody = document.querySelector('#sample tbody');
  const rows = () => [...tbody.querySelectorAll('tr')];
  const shown = () => rows().filter(tr => !tr.hidden);
  const plural = n => n + ' ' + (n === 1 ? CONFIG.entity : CONFIG.noun);
  const withUnit = v => v + (CONFIG.unit ? ' ' + CONFIG.unit : '');
  function refresh() {{
    const done = document.querySelectorAll('.check:checked').length;
    document.getElementById('progress').textContent = done + ' of ' + CONFIG.demos.length + ' demonstrated';
  }}
  const DEMOS = {{
    summary() {{
      const counts = CONFIG.statuses.map(s => rows().filter(tr => tr.dataset.status === s).length + ' ' + s.toLowerCase());
      return plural(rows().length) + ': ' + counts.join(', ') + '.';
    }},
    filter(d) {{
      rows().forEach(tr => {{ tr.hidden = tr.dataset.status !== d.status; }});
      return 'Showing ' + shown().length + ' of ' + plural(rows().length) + ': only the ' + d.status.toLowerCase() + ' ones.';
    }},
    date(d) {{
      const since = new Date(CONFIG.today); since.setDate(since.getDate() - d.days);
      rows().forEach(tr => {{ tr.hidden = new Date(tr.dataset.date) < since; }});
      return 'Showing ' + shown().length + ' of ' + plural(rows().length) + ' updated in the last ' + d.days + ' days.';
    }},
    warn(d) {{
      const hit = rows().filter(tr => d.rule === 'threshold'
        ? (CONFIG.above ? Number(tr.dataset.value) > CONFIG.threshold : Number(tr.dataset.value) < CONFIG.threshold)
        : tr.dataset.status === d.status);
      rows().forEach(tr => tr.classList.toggle('flagged', hit.includes(tr)));
      const names = hit.map(tr => tr.dataset.name.split(' ')[0]).join(', ');
      const why = d.rule === 'threshold'
        ? (hit.length === 1 ? ' has ' : ' have ') + 'a ' + CONFIG.metric + (CONFIG.above ? ' of more than ' : ' of less than ') + withUnit(CONFIG.threshold)
        : (hit.length === 1 ? ' is ' : ' are ') + d.status.toLowerCase();
      return hit.length ? 'Warning: ' + plural(hit.length) + why + ': ' + names + '.' : 'No warning: no ' + CONFIG.entity + why + '.';
    }},
    sort(d) {{
      const sorted = rows().sort((a, b) => (Number(a.dataset.value) - Number(b.dataset.value)) * (d.descending ? -1 : 1));
      sorted.forEach(tr => tbody.appendChild(tr));
      return 'Sorted by ' + CONFIG.metric + ': ' + sorted[0].dataset.name + ' comes first (' + withUnit(sorted[0].dataset.value) + ').';
    }},
    add() {{
      const n = rows().length + 101, name = CONFIG.code + '-' + n + ' New';
      const tr = document.createElement('tr');
      Object.assign(tr.dataset, {{name, status: CONFIG.statuses[0], value: '1', date: CONFIG.today}});
      [name, CONFIG.statuses[0], '1', CONFIG.today].forEach(text => {{
        const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }});
      tbody.appendChild(tr);
      return 'Added ' + name + '; there are ' + plural(rows().length) + ' now.';
    }},
    change(d) {{
      const tr = rows().find(r => r.dataset.status !== d.to) || rows()[0];
      tr.dataset.status = d.to; tr.children[1].textContent = d.to;
      return tr.dataset.name + ' is now ' + d.to.toLowerCase() + '.';
    }},
    export(d) {{
      const lines = [[...document.querySelectorAll('#sample th')].map(th => th.textContent)]
        .concat(shown().map(tr => [...tr.children].map(td => td.textContent)));
      const text = lines.map(cells => cells.map(c => '"' + c.replace(/"/g, '""') + '"').join(',')).join('\\n');
      const name = CONFIG.noun + (d.format === 'PDF' ? '-export.txt' : '.csv');
      const link = document.getElementById('export-link') || document.createElement('a');
      link.id = 'export-link'; link.download = name; link.textContent = 'Download ' + name;
      link.href = URL.createObjectURL(new Blob([text], {{type: 'text/plain'}}));
      document.getElementById('export-area').appendChild(link);
      return 'Exported ' + plural(shown().length) + (d.format === 'PDF'
        ? ' (the prototype makes a text file where the product makes a PDF).' : ' as CSV.');
    }},
  }};
  document.querySelectorAll('.try').forEach(btn => btn.addEventListener('click', () => {{
    const i = Number(btn.dataset.index), demo = CONFIG.demos[i];
    const result = document.getElementById('result-' + i);
    result.textContent = DEMOS[demo.kind](demo);
    result.classList.toggle('warning', result.textContent.startsWith('Warning'));
    result.hidden = false;
    const box = document.querySelector('.check[data-index="' + i + '"]');
    box.checked = true; box.closest('.criterion').classList.add('done'); refresh();
  }}));
  document.querySelectorAll('.check').forEach(box => box.addEventListener('change', () => {{
    box.closest('.criterion').classList.toggle('done', box.checked); refresh();
  }}));
  document.getElementById('filter').addEventListener('input', e => {{
    const q = e.target.value.toLowerCase();
    rows().forEach(tr => {{ tr.hidden = !tr.textContent.toLowerCase().includes(q); }});
  }});
}})();
</script>
</body>
</html>
"""


# what a prototype agent uses (the A/B test agent too: it uploads this agent's page, one per variant)
TOOLS = ["notion_read_page", "notion_search", "prototype_upload", "prototype_check", "prototype_url"]


def upload_prototype(request, variant: str | None = None):
    """Upload the offline page (a variant's under `<variant>/`) with `prototype_upload`; returns the tool's result.
    In an offline script: `upload = yield from upload_prototype(request)`."""
    folder = f"{variant.lower()}/" if variant else ""
    args = {"invocation_id": request.invocation_id, "files": {folder + "index.html": prototype_html(request, variant)}}
    if variant:
        args["variant"] = variant
    return (yield ToolCall("prototype_upload", args))


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    upload = yield from upload_prototype(request)
    return f"Prototype for '{request.story.title}' is live at {upload['url']}. " + check_sentence(upload)


def check_sentence(upload: dict) -> str:
    """What the browser check saw, for the run's summary (and so the Notion comment)."""
    if not upload.get("screenshot_url"):
        return "No browser is configured here, so the page was not rendered before upload."
    check = upload.get("page_check") or {}
    return (f"It rendered in a real browser with no console errors ({check.get('width')}x{check.get('height')} "
            f"screenshot: {upload['screenshot_url']}).")


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="mock",
            description="Builds a self-contained HTML/CSS/JS prototype of the story and hosts it.",
            triggers=["Generate Prototype"],
            tools=TOOLS,
            outputs=["prototype"],
            completion_status="Prototype Ready",
            chains=[ChainRule(to="demo_deck", template="story-to-mock-to-deck")],
            limits=Limits(max_tokens=200_000, timeout_seconds=3600),
            offline=offline,
        )
    ]
