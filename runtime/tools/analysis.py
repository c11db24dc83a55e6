"""feedback_statistics: the arithmetic over a feedback database (seed 2.3), so the insight agent never does it.

Rows are read through the Notion adapter and reduced to plain values; `compute_feedback_statistics` is pure and
tested on known rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.tools.base import ToolContext
from runtime.tools.spec import ToolResultModel, ToolSpec

# rating name in the result -> property in FEEDBACK_DATABASE_PROPERTIES
RATING_PROPERTIES = {"Overall": "Overall Rating", "Clarity": "Clarity Rating", "Desirability": "Desirability Rating"}
WOULD_USE_PROPERTY = "Would Use"
WOULD_USE_ANSWERS = ("Yes", "Maybe", "No")


class FeedbackStatisticsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_source_id: str = Field(min_length=1, description="The feedback database's data source id")


class RatingStatistics(ToolResultModel):
    count: int = Field(ge=0, description="Rows with a rating on the 1-5 scale")
    mean: float | None = None
    median: int | float | None = None
    distribution: dict[str, int] = Field(description="'1'..'5' -> how many rows gave that rating")
    ignored: int = Field(ge=0, description="Rows whose value was not a 1-5 rating")


class FeedbackStatisticsResult(ToolResultModel):
    data_source_id: str
    count: int = Field(ge=0, description="Rows (responses) in all")
    ratings: dict[str, RatingStatistics] = Field(description="Overall, Clarity, Desirability")
    would_use: dict[str, float] = Field(description="Yes/Maybe/No -> share of those who answered")
    would_use_counts: dict[str, int]
    would_use_answered: int = Field(ge=0)


def _rating(value: Any) -> int | None:
    """A 1-5 rating, or None for blanks and values outside the scale (they are reported as ignored)."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and 1 <= number <= 5 else None


def compute_feedback_statistics(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """rows: plain property dicts. -> {count, ratings: {name: {count, mean, median, distribution, ignored}},
    would_use: {answer: share of answered}, would_use_counts, would_use_answered}."""
    rows = list(rows)
    ratings: dict[str, Any] = {}
    for name, prop in RATING_PROPERTIES.items():
        raw = [row.get(prop) for row in rows]
        values = [v for v in (_rating(r) for r in raw) if v is not None]
        ignored = sum(1 for r, v in zip(raw, (_rating(r) for r in raw)) if v is None and r not in (None, ""))
        ratings[name] = {
            "count": len(values),
            "mean": round(statistics.fmean(values), 2) if values else None,
            "median": statistics.median(values) if values else None,
            "distribution": {str(score): values.count(score) for score in range(1, 6)},
            "ignored": ignored,
        }
    answers = [row.get(WOULD_USE_PROPERTY) for row in rows]
    counts = {answer: answers.count(answer) for answer in WOULD_USE_ANSWERS}
    answered = sum(counts.values())
    return {
        "count": len(rows),
        "ratings": ratings,
        "would_use": {a: round(c / answered, 3) if answered else 0.0 for a, c in counts.items()},
        "would_use_counts": counts,
        "would_use_answered": answered,
    }


def feedback_statistics(context: ToolContext, args: FeedbackStatisticsArgs) -> dict[str, Any]:
    from runtime.notion.adapter import plain_properties

    notion = context.services.require("notion", "feedback_statistics")
    pages = notion.query_data_source(args.data_source_id)
    stats = compute_feedback_statistics(plain_properties(page) for page in pages)
    return {"data_source_id": args.data_source_id, **stats}


TOOLS = [
    ToolSpec("feedback_statistics", "Ratings statistics over a feedback database: response count, mean, median and "
             "distribution (1-5) of Overall, Clarity and Desirability, and would-use shares.", "analysis",
             FeedbackStatisticsArgs, feedback_statistics, result_model=FeedbackStatisticsResult),
]
