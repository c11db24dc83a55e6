"""feedback_statistics on known rows: counts, means, medians, distributions and would-use shares."""

from __future__ import annotations

from runtime.tools.analysis import compute_feedback_statistics

ROWS = [
    {"Overall Rating": 5, "Clarity Rating": 4, "Desirability Rating": 5, "Would Use": "Yes"},
    {"Overall Rating": 4, "Clarity Rating": 4, "Desirability Rating": 3, "Would Use": "Yes"},
    {"Overall Rating": 2, "Clarity Rating": 3, "Desirability Rating": None, "Would Use": "No"},
    {"Overall Rating": 4, "Clarity Rating": None, "Desirability Rating": 4, "Would Use": "Maybe"},
    {"Overall Rating": 9, "Clarity Rating": 5.0, "Desirability Rating": 2, "Would Use": None},  # 9: off the scale
]


def test_statistics_on_known_rows():
    stats = compute_feedback_statistics(ROWS)
    assert stats["count"] == 5
    overall = stats["ratings"]["Overall"]
    assert overall == {"count": 4, "mean": 3.75, "median": 4.0, "ignored": 1,
                       "distribution": {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}}
    clarity = stats["ratings"]["Clarity"]
    assert clarity["count"] == 4 and clarity["mean"] == 4.0 and clarity["median"] == 4.0
    assert clarity["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 2, "5": 1}
    desirability = stats["ratings"]["Desirability"]
    assert desirability["mean"] == 3.5 and desirability["median"] == 3.5 and desirability["ignored"] == 0
    assert stats["would_use_counts"] == {"Yes": 2, "Maybe": 1, "No": 1} and stats["would_use_answered"] == 4
    assert stats["would_use"] == {"Yes": 0.5, "Maybe": 0.25, "No": 0.25}


def test_no_rows_gives_empty_statistics_not_errors():
    stats = compute_feedback_statistics([])
    assert stats["count"] == 0 and stats["ratings"]["Overall"]["mean"] is None
    assert stats["would_use"] == {"Yes": 0.0, "Maybe": 0.0, "No": 0.0}
