"""Metric functions against known values, including SQuAD's official behaviour."""

import pytest

from engine.evaluation import advisor
from engine.evaluation import metrics as m


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  an   apple, a pear ", "apple pear"),
        ("Theory of the atom", "theory of atom"),  # "the" only as a whole word
        ("U.S.A.", "usa"),
        ("", ""),
    ],
)
def test_squad_normalisation(text, normal):
    assert m.normalize_answer(text) == normal


def test_exact_match_ignores_case_articles_and_punctuation_and_takes_the_best_reference():
    assert m.exact_match("the Eiffel Tower.", ["Eiffel Tower"]) == 1.0
    assert m.exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    assert m.exact_match("1889", ["in 1889", "1889"]) == 1.0


def test_token_f1_known_values():
    # got [big, red, dog] vs want [red, dog]: precision 2/3, recall 1 → F1 0.8
    assert m.token_f1("the big red dog", ["red dog"]) == pytest.approx(0.8)
    # the best of several references counts
    assert m.token_f1("Denver Broncos", ["Broncos", "Denver Broncos"]) == 1.0
    assert m.token_f1("Paris", ["London"]) == 0.0
    # repeated tokens count once per match (Counter intersection)
    assert m.token_f1("dog dog", ["dog"]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert m.token_f1("", ["x"]) == 0.0 and m.token_f1("the", ["a"]) == 1.0  # both empty


def test_contains_needs_whole_words():
    assert m.contains("It is Paris, of course.", ["paris"]) == 1.0
    assert m.contains("A Parisian café", ["Paris"]) == 0.0
    assert m.contains("Built in 1889 by Eiffel", ["the 1889"]) == 1.0


def test_regex():
    assert m.regex_match("Answer: 42.", r"\b42\b") == 1.0
    assert m.regex_match("Answer: 420", r"\b42\b") == 0.0
    assert m.check_pattern("(") is not None and m.check_pattern("a+") is None


def test_retrieval_metrics_at_document_level():
    ranking = m.document_ranking(["/d/b.txt", "/d/b.txt", "/d/a.txt", "/d/c.txt"])
    assert ranking == ["/d/b.txt", "/d/a.txt", "/d/c.txt"]
    assert m.recall_at_k(ranking, ["a.txt"], 1) == 0.0
    assert m.recall_at_k(ranking, ["a.txt"], 2) == 1.0
    assert m.recall_at_k(ranking, ["a", "c.txt"], 2) == 0.5  # a stem matches too
    assert m.reciprocal_rank(ranking, ["c.txt"]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(ranking, ["z.txt"]) == 0.0
    # one relevant document at rank 2: DCG 1/log2(3), ideal 1
    assert m.ndcg_at_k(ranking, ["a.txt"]) == pytest.approx(0.6309, abs=1e-4)
    assert m.ndcg_at_k(ranking, ["b.txt", "a.txt"]) == pytest.approx(1.0)


def test_confidence_intervals():
    mean, lo, hi = m.mean_ci([1, 0] * 5)  # Wilson 95% for 5/10
    assert (mean, round(lo, 4), round(hi, 4)) == (0.5, 0.2366, 0.7634)
    mean, lo, hi = m.mean_ci([0.2, 0.4, 0.6])
    assert mean == pytest.approx(0.4) and lo < 0.4 < hi
    assert m.mean_ci([]) is None and m.mean_ci([0.3]) == (0.3, 0.3, 0.3)


def test_advisor_questionnaire_follows_the_ladder():
    assert advisor.from_answers(advisor.Answers()).level == 1
    assert advisor.from_answers(advisor.Answers(specific_format=True)).level == 2
    assert advisor.from_answers(advisor.Answers(private_documents=True)).level == 3
    few = advisor.from_answers(advisor.Answers(general_knowledge=False, labelled_examples=200))
    assert few.level == 2 and "1000" in few.text()
    assert (
        advisor.from_answers(advisor.Answers(general_knowledge=False, labelled_examples=5000)).level
        == 4
    )
    assert (
        advisor.from_answers(
            advisor.Answers(private_documents=True, high_stakes=True, labelled_examples=5000)
        ).level
        == 5
    )


def _row(level, f1, latency, n=50, spread=0.05):
    return {
        "label": f"A v{level} · L{level}",
        "assistant": "A",
        "version": level,
        "level": level,
        "n": n,
        "metrics": {
            "f1": {"value": f1, "low": f1 - spread, "high": f1 + spread},
            "latency_s": {"value": latency},
        },
    }


def test_advisor_from_numbers_keeps_a_rung_only_when_it_pays():
    advice = advisor.from_scoreboard([_row(1, 0.12, 1.0), _row(2, 0.13, 1.5), _row(3, 0.41, 3.0)])
    text = advice.text()
    assert advice.level == 3
    assert "Level 2 (A v2) raised F1 from 0.12 to 0.13" in text and "not worth it" in text
    assert "Level 3 (A v3) raised F1 from 0.12 to 0.41 at 3.0× the latency: keep it." in text
    assert "Level 4 is worth trying only with ≥ 1000 examples; your largest set has 0" in text
    slow = advisor.from_scoreboard(
        [_row(1, 0.1, 1.0), _row(3, 0.5, 20.0)], advisor.Thresholds(max_latency_ratio=5)
    )
    assert slow.level == 1 and "over your 5× latency limit" in slow.text()
    assert advisor.from_scoreboard([_row(1, 0.1, 1.0)]) is None


def test_advisor_names_an_ad_hoc_configuration_by_its_label():
    # The ladder's configurations are stored with their label as the name and no version.
    rows = [_row(3, 0.3, 1.0), _row(5, 0.7, 2.0)]
    for row in rows:
        row.update(assistant=f"Level {row['level']} · k=5", version=None)
    text = advisor.from_scoreboard(rows).text()
    assert "Level 5 (Level 5 · k=5) raised F1" in text
    assert "Use Level 5 (RAFT): Level 5 · k=5." in text and "None" not in text


def test_one_formatter_for_both_front_ends():
    from engine.evaluation.formatting import format_cell, format_change, format_value

    # A mean with its 95% interval, a median (no interval), a collapsed interval, nothing.
    assert format_cell("f1", {"value": 0.412, "low": 0.36, "high": 0.46}) == "0.41 ± 0.05"
    assert format_cell("latency_s", {"value": 1.234}) == "1.23"
    assert format_cell("em", {"value": 1.0, "low": 1.0, "high": 1.0}) == "1.00"
    assert format_cell("f1", None) == format_value("f1", None) == "—"
    # Each metric keeps its own precision, in values and in changes between runs.
    assert format_value("api_cost", 0.000123) == "0.00012"
    assert format_value("tokens_in", 41.6) == "42"
    assert format_change("f1", 0.114) == "+0.11"
    assert format_change("latency_s", -0.5) == "-0.50"
    assert format_change("tokens_out", 3) == "+3"
