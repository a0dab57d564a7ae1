"""Evaluation sets, runs and the command line, with the bundled model, the real embedder and a
real knowledge base."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import DEFAULT_ASSISTANT
from engine.errors import InvalidData, TailorError
from engine.evaluation.sets import parse_file
from engine.events import Outcome, Progress, run
from engine.types import Case, Example, RunOptions, RunStep, Target
from tests import fake_adapters, knowledge_folder

TAILOR = str(Path(sys.executable).parent / "tailor")
ASSETS = Path(__file__).parent / "assets"
CASES = [
    Case("port", "Which port does the Zebra protocol use?", ("7431",), ("guide.md",)),
    Case("vans", "How many electric vans does the delivery fleet have?", ("14",), ("page.html",)),
    Case("soup", "What does the cafeteria serve every Thursday?", ("lentil soup",), ("notes.txt",)),
]


def test_question_parsing():
    from engine.synthetic import parse_pairs

    reply = "Question: Where is the serial number?\nAnswer: under the router\n\nQuestion: x\n"
    assert parse_pairs(reply) == [("Where is the serial number?", "under the router")]
    assert parse_pairs("I cannot write a question.") == []


def test_import_formats(tmp_path):
    jsonl = tmp_path / "set.jsonl"
    jsonl.write_text(
        '{"id": "q1", "question": "Capital of France?", "answers": ["Paris", "paris"]}\n'
        '{"input": "2+2?", "answer": "4", "sources": "maths.txt", "pattern": "\\\\b4\\\\b"}\n'
    )
    cases = parse_file(jsonl)
    assert cases[0] == Case("q1", "Capital of France?", ("Paris", "paris"))
    assert cases[1].sources == ("maths.txt",) and cases[1].pattern == r"\b4\b"
    csv = tmp_path / "set.csv"
    csv.write_text('question,answer,documents\n"Who?","Ada || Ada Lovelace",a.md||b.md\n')
    assert parse_file(csv) == [Case("c1", "Who?", ("Ada", "Ada Lovelace"), ("a.md", "b.md"))]
    squad = parse_file(ASSETS / "squad_slice.json")
    assert len(squad) == 3 and squad[0].sources == ("Apollo_program",)
    assert "Project Mercury" in squad[0].references and len(squad[0].key) == 24


def test_bad_files_report_every_problem_by_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"input": "ok", "answer": "fine"}\n'
        "not json\n"
        '{"input": "no answer"}\n'
        '{"answer": "no input"}\n'
        '{"input": "bad pattern", "pattern": "("}\n'
        '["a list"]\n'
    )
    with pytest.raises(InvalidData) as error:
        parse_file(bad)
    text = str(error.value)
    for line in (
        "line 2: invalid JSON",
        "line 3: missing or empty reference",
        "line 4: missing or empty input",
        "line 5: pattern is an invalid regular",
        "line 6: expected",
    ):
        assert line in text
    dupes = tmp_path / "dupes.jsonl"
    dupes.write_text(
        '{"id": 1, "input": "a", "answer": "b"}\n{"id": 1, "input": "c", "answer": "d"}'
    )
    with pytest.raises(InvalidData, match="appears more than once"):
        parse_file(dupes)
    other = tmp_path / "set.txt"
    other.write_text("x")
    with pytest.raises(TailorError, match=r"imported from \.jsonl"):
        parse_file(other)
    squadish = tmp_path / "squad.json"
    squadish.write_text('{"data": [{"title": "x", "paragraphs": [{"qas": [{"answers": []}]}]}]}')
    with pytest.raises(InvalidData, match="no answerable questions"):
        parse_file(squadish)


def test_sets_are_versioned_and_runs_keep_their_version(engine, tmp_path):
    first = tmp_path / "a.jsonl"
    first.write_text('{"id": "a", "input": "Say yes.", "answer": "yes"}\n')
    v1 = engine.import_eval_set(first, "checks")
    run_id = engine.create_eval_run("checks", [Target(DEFAULT_ASSISTANT)])
    assert engine.eval_run_hosts(run_id) == []  # a local run sends nothing anywhere
    second = tmp_path / "b.jsonl"
    second.write_text('{"id": "b", "input": "Say no.", "answer": "no"}\n')
    v2 = engine.import_eval_set(second, "checks")
    assert (v1.version, len(v1.cases), v2.version, len(v2.cases)) == (1, 1, 2, 2)
    assert engine.get_eval_run(run_id)["set_version"] == 1
    assert [c.key for c in engine.get_eval_set("checks", 1).cases] == ["a"]
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        engine.services.workspace.db.execute("UPDATE eval_cases SET input = 'changed'")
    engine.create_example_set("demo", [Example("Hi", "Hello!")])
    made = engine.eval_set_from_examples("demo", "demo")
    assert made.cases == [Case("e1", "Hi", ("Hello!",))]
    from engine.finetune.datasets import split

    rows = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
        for i in range(30)
    ]
    held = engine.services.eval_sets.from_dataset("held", rows)
    _train, val = split(rows, 0.1, 3407)  # exactly what a default training job keeps out
    assert [(c.input, c.references[0]) for c in held.cases] == [
        (v[0]["content"], v[1]["content"]) for v in val
    ]
    assert len(held.cases) == 3


@pytest.fixture
def docs_assistant(engine, tmp_path):
    folder = knowledge_folder.build(tmp_path / "docs", with_bad=False)
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [folder])
    run(engine.index("docs"))
    engine.create_assistant(
        "Docs",
        engine.get_assistant(DEFAULT_ASSISTANT).config.model_copy(
            update={"knowledge_base": "docs", "retrieval_k": 3}
        ),
    )
    engine.save_eval_set("facts", CASES)
    return folder


def test_run_end_to_end_against_level_1_and_level_3(engine, docs_assistant, no_network):
    run_id = engine.create_eval_run(
        "facts",
        [Target(DEFAULT_ASSISTANT), Target("Docs")],
        RunOptions(max_tokens=32, temperature=0.0, price_per_1k_tokens=0.002),
    )
    events = list(engine.evaluate(run_id))
    outcome, progress = events[-1], [e for e in events if isinstance(e, Progress)]
    assert isinstance(outcome, Outcome) and outcome.status == "done"
    assert outcome.result["status"] == "done" and outcome.result["results"] == 6
    assert progress[-1].done == progress[-1].total == 6
    assert isinstance(progress[-1].detail, RunStep) and "f1" in progress[-1].detail.scores
    assert engine.get_eval_run(run_id)["status"] == "done"
    results = engine.eval_results(run_id)
    assert len(results) == 6
    for r in results:
        assert set(r["scores"]) >= {"em", "f1", "contains"}
        assert r["prompt"]["rendered"] and r["stats"]["tokens_in"] > 0
        assert r["stats"]["api_cost"] == pytest.approx(
            (r["stats"]["tokens_in"] + r["stats"]["tokens_out"]) * 0.002 / 1000
        )
    rag = [r for r in results if r["assistant"] == "Docs"]
    for r in rag:  # the answer was written from the right document, and retrieval scored it
        reference = r["reference_sources"][0]
        assert any(Path(s["source"]).name == reference for s in r["sources"])
        used = [s for s in r["sources"] if Path(s["source"]).name == reference]
        assert used and all(s["text"] in r["prompt"]["rendered"] for s in used)
        assert Path(r["retrieved"][0]).name == reference and r["scores"]["mrr"] == 1.0
    plain = [r for r in results if r["assistant"] == DEFAULT_ASSISTANT]
    assert all("mrr" not in r["scores"] and not r["sources"] for r in plain)
    board = engine.scoreboard(run_id)
    assert [(b["level"], b["n"]) for b in board] == [(1, 3), (3, 3)]
    assert board[1]["metrics"]["recall"]["value"] == 1.0
    assert board[1]["metrics"]["tokens_in"]["value"] > board[0]["metrics"]["tokens_in"]["value"]
    f1 = board[0]["metrics"]["f1"]
    assert f1["low"] <= f1["value"] <= f1["high"]
    # Questions written about sampled passages: each passage gives drafts or counts as rejected.
    passages = engine.sample_passages("docs", 2, seed=1)
    assert len(passages) == 2 and engine.sample_passages("docs", 2, seed=1) == passages
    steps: list = []
    drafted = run(
        engine.write_questions("docs", 2, model="smollm2-135m-instruct", seed=1), steps.append
    )
    last = steps[-1]
    assert (last.done, last.total) == (2, 2) and last.detail == drafted
    assert len({d.chunk_id for d in drafted.drafts}) + drafted.rejected == 2
    assert all(d.source in {p.source for p in passages} and d.question for d in drafted.drafts)
    per_case = engine.eval_per_case(run_id, "contains")
    assert [c["case"] for c in per_case] == ["port", "vans", "soup"]
    assert all(c["cells"][1]["change"] in ("helped", "hurt", "same") for c in per_case)
    assert not no_network


def test_judge_scores_with_a_visible_prompt(engine):
    engine.save_eval_set("one", [Case("a", "What colour is the sky on a clear day?", ("blue",))])
    with pytest.raises(TailorError, match="must contain"):
        engine.create_eval_run(
            "one",
            [Target(DEFAULT_ASSISTANT)],
            RunOptions(judge_model="smollm2-135m-instruct", judge_prompt="Rate"),
        )
    run_id = engine.create_eval_run(
        "one",
        [Target(DEFAULT_ASSISTANT)],
        RunOptions(max_tokens=24, temperature=0.0, judge_model="smollm2-135m-instruct"),
    )
    events = list(engine.evaluate(run_id))
    phases = [e.phase for e in events if isinstance(e, Progress)]
    assert phases.count("judging") == 1 and events[-1].status == "done"
    [result] = engine.eval_results(run_id)
    assert result["judge_reply"]  # the judge's own words are kept for inspection
    assert "judge" in result["scores"] or "Score" not in result["judge_reply"]


def _results_in_db(home: Path) -> list[tuple]:
    db = sqlite3.connect(home / "tailor.db")
    rows = db.execute(
        "SELECT rowid, run_config_id, case_id, created_at FROM eval_results ORDER BY rowid"
    ).fetchall()
    db.close()
    return rows


def test_killed_run_resumes_where_it_stopped(home, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "".join(
            json.dumps(
                {"id": f"n{i}", "input": f"Write the number {i} in words.", "answer": str(i)}
            )
            + "\n"
            for i in range(8)
        )
    )
    run = lambda *a: subprocess.run([TAILOR, *a], capture_output=True, text=True, check=True)  # noqa: E731
    run("eval", "import", "numbers", str(cases))
    proc = subprocess.Popen(
        [TAILOR, "eval", "run", "numbers", "-a", DEFAULT_ASSISTANT, "--max-tokens", "48"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    seen, deadline = b"", time.monotonic() + 240
    while max(map(int, re.findall(rb"answering (\d+)/8", seen)), default=0) < 3:
        chunk = proc.stderr.read1(4096)
        assert chunk and time.monotonic() < deadline, seen[-400:]
        seen += chunk
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _results_in_db(home)
    assert 3 <= len(before) < 8
    listed = run("eval", "list").stdout
    assert re.search(r"numbers v1\s+running\s+\d/8", listed), listed
    resumed = run("eval", "resume", "1")
    after = _results_in_db(home)
    assert len(after) == 8 and after[: len(before)] == before  # nothing redone, nothing lost
    assert "Default assistant v1 · L1" in resumed.stdout
    assert "done" in run("eval", "list").stdout


def test_eval_command_line(home, tmp_path):
    run = lambda *a: subprocess.run([TAILOR, *a], capture_output=True, text=True)  # noqa: E731
    cases = tmp_path / "two.jsonl"
    cases.write_text(
        '{"id": "a", "input": "Say hello.", "answer": "hello"}\n'
        '{"id": "b", "input": "Name a colour.", "answers": ["red", "blue"]}\n'
    )
    assert "two v1: 2 cases." in run("eval", "import", "two", str(cases)).stdout
    out = run("eval", "run", "two", "-a", DEFAULT_ASSISTANT, "--max-tokens", "16", "--json")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(x["case"], x["assistant"], x["version"]) for x in lines] == [
        ("a", DEFAULT_ASSISTANT, 1),
        ("b", DEFAULT_ASSISTANT, 1),
    ]
    assert all({"response", "sources", "scores", "latency_s"} <= set(x) for x in lines)
    run("assistants", "edit", DEFAULT_ASSISTANT, "--system", "Answer in one word.")
    table = run(
        "eval",
        "run",
        "two",
        "-a",
        f"{DEFAULT_ASSISTANT}@1",
        "-a",
        DEFAULT_ASSISTANT,
        "--max-tokens",
        "16",
    ).stdout
    assert "Default assistant v1 · L1" in table and "Default assistant v2 · L1" in table
    assert "F1" in table and "Latency (s)" in table
    compared = run("eval", "compare", "1", "2").stdout
    assert "vs  Default assistant v1 · L1" in compared and "F1" in compared
    missing = run("eval", "run", "nope", "-a", DEFAULT_ASSISTANT)
    assert missing.returncode == 1 and "No evaluation set named 'nope'" in missing.stderr
    advice = run("eval", "advise", "--private-documents").stdout
    assert advice.startswith("Start at Level 3 (RAG).")


def test_the_ladder_compares_ad_hoc_configurations_and_makes_no_assistants(engine, tmp_path):
    model = fake_adapters.register(engine, tmp_path, with_files=True)
    engine.save_eval_set("facts", CASES)
    ladder = {"model": model, "knowledge_base": "docs"}
    with pytest.raises(TailorError, match="between 1 and 50"):
        engine.compare_ladder("facts", **ladder, raft_adapter="retrieval", retrieval_ks=(0,))
    with pytest.raises(TailorError, match="not trained on a RAFT dataset"):
        engine.compare_ladder("facts", **ladder, raft_adapter="plain")
    with pytest.raises(TailorError, match="No model named 'other'"):
        engine.compare_ladder(
            "facts", model="other", knowledge_base="docs", raft_adapter="retrieval"
        )
    run_id = engine.compare_ladder(
        "facts", **ladder, raft_adapter="retrieval", plain_adapter="plain", retrieval_ks=(2, 5)
    )
    labels = [
        "Level 3 · k=2 · base + RAG",
        "Level 3 · k=5 · base + RAG",
        "Level 4 · fine-tuned, no documents",
        "Level 5 · k=2 · RAFT + RAG",
        "Level 5 · k=5 · RAFT + RAG",
    ]
    assert engine.get_eval_run(run_id)["assistants"] == labels
    board = engine.scoreboard(run_id)
    assert [(b["label"], b["level"], b["version"]) for b in board] == [
        (label, int(label.split()[1]), None) for label in labels
    ]
    assert engine.list_assistants() == [DEFAULT_ASSISTANT]  # nothing made on the side
    configs = engine.services.evals.configs(run_id)
    assert [c["config"].retrieval_k for c in configs if c["config"].knowledge_base] == [2, 5, 2, 5]
    assert {c["config"].temperature for c in configs} == {0.0}
