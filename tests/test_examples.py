"""Example sets: import/export with every bad row reported, and few-shot prompts."""

import pytest

from engine.errors import InvalidData
from engine.examples import parse_file
from engine.types import Example

ASSETS = __import__("pathlib").Path(__file__).parent / "assets"


def test_import_jsonl_and_csv(engine):
    assert engine.import_examples(ASSETS / "examples_good.jsonl", "qa") == 3
    assert engine.import_examples(ASSETS / "examples_good.csv", "fr") == 2
    assert engine.get_example_set("fr")[1] == Example("Translate dog to French", "chien")
    assert engine.example_counts() == {"fr": 2, "qa": 3}


def test_every_bad_row_is_reported_with_its_line(engine):
    with pytest.raises(InvalidData) as info:
        engine.import_examples(ASSETS / "examples_bad.jsonl", "bad")
    text = str(info.value)
    assert "4 problem(s)" in text
    for line in ("line 2", "line 3", "line 4", "line 5"):
        assert line in text
    assert "line 1" not in text
    assert engine.list_example_sets() == []  # nothing half-imported


def test_csv_problems_use_spreadsheet_line_numbers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('input,output\n"a","b"\n"c",\n')
    with pytest.raises(InvalidData, match="line 3: missing or empty output"):
        parse_file(path)


def test_wrong_format_and_bad_encoding(tmp_path):
    txt = tmp_path / "x.txt"
    txt.write_text("hello")
    with pytest.raises(Exception, match=r"\.jsonl, \.json or \.csv"):
        parse_file(txt)
    latin = tmp_path / "x.jsonl"
    latin.write_bytes(b'{"input": "caf\xe9", "output": "x"}\n')
    with pytest.raises(InvalidData, match="not UTF-8"):
        parse_file(latin)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_round_trips(engine, tmp_path, suffix):
    tricky = [Example('comma, "quote"', "line\nbreak"), Example("é ü 中文", "ok")]
    engine.create_example_set("t", tricky)
    engine.export_examples("t", tmp_path / f"out{suffix}")
    assert parse_file(tmp_path / f"out{suffix}") == tricky


def test_all_examples_become_demonstration_turns(engine):
    engine.import_examples(ASSETS / "examples_good.jsonl", "qa")
    v = engine.edit_assistant("Default assistant", example_set="qa")
    messages, _ = engine.services.chat.build_messages(v.config, [], "What is 2+2?")
    roles = [m["role"] for m in messages]
    assert roles == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert messages[2]["content"] == "ANSWER: blue"
    assert messages[-1]["content"] == "What is 2+2?"


def test_dynamic_few_shot_picks_the_most_similar_examples(engine):
    examples = [
        Example("How do I bake sourdough bread?", "Use a starter."),
        Example("What is the boiling point of water?", "100 °C at sea level."),
        Example("Which planet is closest to the sun?", "Mercury."),
        Example("How long should bread dough rise?", "About two hours."),
        Example("Who wrote Hamlet?", "Shakespeare."),
    ]
    engine.create_example_set("mixed", examples)
    v = engine.edit_assistant("Default assistant", example_set="mixed", few_shot_k=2)
    build_messages = engine.services.chat.build_messages
    messages, _ = build_messages(v.config, [], "Tips for baking a loaf of bread at home?")
    shown = {m["content"] for m in messages if m["role"] == "user"}
    assert "How do I bake sourdough bread?" in shown
    assert "How long should bread dough rise?" in shown
    assert len(shown) == 3  # two examples and the question
    # Embeddings are cached in the workspace.
    count = engine.services.workspace.db.execute(
        "SELECT COUNT(*) FROM example_embeddings"
    ).fetchone()[0]
    assert count == 5
