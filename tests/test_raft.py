"""Level 5, RAFT: the format helpers, the dataset builder on a real knowledge base with the
bundled model as writer, kill and resume of a build, and the whole path — build, review, train,
serve as a Level 5 assistant, compare Levels 3, 4 and 5 — on made-up facts."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.assistants import AssistantConfig
from engine.errors import AlreadyExists, TailorError
from engine.events import CancelToken, Outcome, Progress, run
from engine.knowledge.store import Hit
from engine.raft import drafting, examples
from engine.raft import format as raft_format
from engine.raft.drafting import RaftDraft
from engine.raft.options import RaftOptions
from tests import raft_facts

TAILOR = str(Path(sys.executable).parent / "tailor")
BASE = "smollm2-135m-instruct"


def test_format_helpers():
    oracle = "The Zebra protocol uses port 7431.\nIt was designed by Marguerite Okafor in 2011."
    good = (
        "The document says ##begin_quote##It was designed by  Marguerite Okafor##end_quote## "
        "so it was her.\n<ANSWER>: Marguerite Okafor"
    )
    assert raft_format.check_reasoning(good, oracle) == ""  # whitespace differences are not errors
    assert raft_format.split_answer(good) == (good.split("\n<ANSWER>")[0], "Marguerite Okafor")
    assert raft_format.final_answer(good) == "Marguerite Okafor"
    assert raft_format.final_answer("no tag here") == "no tag here"
    assert raft_format.quotes(good) == ["It was designed by  Marguerite Okafor"]
    invented = good.replace("Marguerite Okafor##", "Ada Lovelace##")
    assert raft_format.check_reasoning(invented, oracle) == "a quote is not in the passage"
    assert raft_format.check_reasoning("It was her.\n<ANSWER>: Okafor", oracle) == (
        "no quote from the passage"
    )
    assert raft_format.check_reasoning("##begin_quote##port 7431##end_quote##", oracle) == (
        "no <ANSWER>: at the end"
    )
    assert raft_format.check_reasoning("##begin_quote##port 7431##end_quote## <ANSWER>:", oracle)
    extracted = drafting.extract_reasoning("2011", oracle)
    assert raft_format.quotes(extracted) == ["It was designed by Marguerite Okafor in 2011."]
    assert raft_format.check_reasoning(extracted, oracle) == "" and extracted.endswith(
        "<ANSWER>: 2011"
    )
    assert drafting.extract_reasoning("port 9999", oracle) is None
    prompt = raft_format.format_prompt("Which port?", ["a", "b"])
    assert prompt == "<DOCUMENT>a</DOCUMENT>\n<DOCUMENT>b</DOCUMENT>\nWhich port?"


def test_a_raft_reply_is_parsed_once_and_kept_with_the_conversation(engine):
    """What the chat shows and the conversation keeps: the answer, the reasoning, and the
    number of the retrieved passage each quote came from (None for a quote in none of them)."""
    sources = [
        {"n": 1, "source": "/docs/other.md", "text": "Unrelated: the office opens at nine."},
        {"n": 2, "source": "/docs/zebra.md", "text": "The Zebra protocol uses port 7431. Ok."},
    ]
    text = (
        "It says ##begin_quote##The Zebra protocol\n uses port 7431.##end_quote## and "
        "##begin_quote##made up##end_quote## So: 7431.\n<ANSWER>: 7431"
    )
    parsed = raft_format.parse_answer(text, sources)
    assert parsed.answer == "7431"
    assert parsed.reasoning == text.split("\n<ANSWER>")[0]
    assert [(q.text, q.passage) for q in parsed.quotes] == [
        ("The Zebra protocol\n uses port 7431.", 2),
        ("made up", None),
    ]
    assert [parsed.reasoning[q.start : q.end] for q in parsed.quotes] == [
        "##begin_quote##The Zebra protocol\n uses port 7431.##end_quote##",
        "##begin_quote##made up##end_quote##",
    ]
    assert raft_format.parse_answer(text.split("<ANSWER>")[0], sources) is None  # cut off
    conversations = engine.services.conversations
    cid = conversations.create(None).id
    for kept in (parsed.to_dict(), None):
        conversations.add(cid, "assistant", text, prompt={"sources": sources, "raft": kept})
    # Saved before replies were parsed by the engine: read from the text, as shown then.
    conversations.add(cid, "assistant", text, prompt={"sources": sources})
    assert [m.raft for m in conversations.messages(cid)] == [parsed, None, parsed]


def _hit(i: int) -> Hit:
    text = f"Fact {i}: the code of item {i} is K{i}."
    return Hit(f"c{i}", f"/docs/{i}.md", text, None, None, 0, 1, 0.0, 1.0)


def test_examples_keep_the_oracle_in_about_p_and_have_k_distractors():
    chunks = [_hit(i) for i in range(60)]
    drafts = [
        RaftDraft(
            c.id,
            c.source,
            f"What is the code of item {i}?",
            f"K{i}",
            drafting.extract_reasoning(f"K{i}", c.text),
            "extract",
        )
        for i, c in enumerate(chunks)
        for _ in range(20)
    ]
    options = RaftOptions(knowledge_base="kb", writer="w", distractors=4, p_oracle=0.8)
    made = examples.make_examples(drafts, chunks, options, random.Random(1))
    assert len(made.rows) == len(drafts) == 1200
    share = made.with_oracle / len(made.rows)
    assert abs(share - 0.8) < 0.04, share  # 1,200 draws: 3.5 standard deviations
    for d, row in zip(drafts, made.rows, strict=True):
        system, user, assistant = row
        assert system["content"] == raft_format.SYSTEM_PROMPT
        assert user["content"].count("<DOCUMENT>") == 5  # k distractors + oracle, or k + 1
        assert user["content"].endswith(d.question)
        assert assistant["content"].endswith(f"<ANSWER>: {d.answer}")
    # Oracle present exactly in the counted examples; never twice; distractors are others.
    present = [
        r[1]["content"].count(next(c.text for c in chunks if c.id == d.chunk_id))
        for d, r in zip(drafts, made.rows, strict=True)
    ]
    assert set(present) == {0, 1} and sum(present) == made.with_oracle
    assert made.hard == 0  # no retriever given: all random
    # P = 1 keeps every oracle; P = 0 none.
    for p, expected in ((1.0, 1200), (0.0, 0)):
        options = RaftOptions(knowledge_base="kb", writer="w", p_oracle=p)
        assert (
            examples.make_examples(drafts, chunks, options, random.Random(2)).with_oracle
            == expected
        )


def _kb(engine, folder: Path) -> None:
    raft_facts.build(folder)
    engine.services.knowledge.create("facts")
    engine.services.knowledge.add_roots("facts", [folder])
    run(engine.services.knowledge.index("facts"))


def test_builder_with_the_bundled_writer(engine, tmp_path, no_network):
    """Real drafts from the bundled model: every kept draft's quotes are in its passage and
    it ends in an answer; dropped ones are counted with their reason; the saved dataset has
    the structure RAFT trains on, with hard negatives from the real retriever."""
    _kb(engine, tmp_path / "docs")
    options = RaftOptions(
        knowledge_base="facts",
        writer=BASE,
        questions_per_chunk=2,
        distractors=3,
        p_oracle=0.8,
        negatives="hard",
    )
    info = engine.create_raft_build("facts-raft", options)
    assert (info.status, info.total, info.done) == ("drafting", 8, 0)
    # Stopped before a passage is drafted: a normal ending, with the build as it was kept.
    stop = CancelToken()
    stop.cancel()
    stopped = list(engine.draft_raft("facts-raft", cancel=stop))[-1]
    assert stopped.status == "cancelled"
    assert (stopped.result.status, stopped.result.done) == ("stopped", 0)
    events = list(engine.draft_raft("facts-raft"))
    outcome = events[-1]
    assert isinstance(outcome, Outcome) and outcome.status == "done"
    assert (outcome.result.status, outcome.result.done) == ("review", 8)
    progress = [e for e in events[:-1] if isinstance(e, Progress)]
    assert len(progress) == len(events) - 1 and {p.phase for p in progress} == {"drafting"}
    last = progress[-1]
    assert (last.done, last.total) == (8, 8)
    drafts = engine.raft_drafts("facts-raft")
    assert last.detail.kept + last.detail.dropped == len(drafts) and last.detail.kept > 0
    texts = engine.raft_passages("facts-raft")
    assert texts == {c.id: c.text for c in engine.services.knowledge.chunks("facts")}
    for d in drafts:
        if d.problem:
            assert d.problem in last.detail.reasons
            continue
        assert raft_format.check_reasoning(d.reasoning, texts[d.chunk_id]) == ""
        passage = " ".join(texts[d.chunk_id].split())
        assert all(" ".join(q.split()) in passage for q in raft_format.quotes(d.reasoning))
    assert engine.get_raft_build("facts-raft").status == "review"
    # A kill while a line was being written leaves it cut short: that passage is drafted
    # again, nothing else; a bad line elsewhere (a slip while editing by hand) is named.
    path = engine.get_raft_build("facts-raft").folder / "drafts.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    assert engine.get_raft_build("facts-raft").done == 7
    assert run(engine.draft_raft("facts-raft")).done == 8
    again = path.read_text().splitlines()
    assert (
        again[:-1] == lines[:-1]
        and json.loads(again[-1])["chunk"] == json.loads(lines[-1])["chunk"]
    )
    path.write_text("\n".join([again[0], "{oops", *again[1:]]) + "\n")
    with pytest.raises(TailorError, match="line 2"):
        engine.raft_drafts("facts-raft")
    path.write_text("\n".join(again) + "\n")
    drafts = engine.raft_drafts("facts-raft")
    # Same name, other settings: refused; same settings: the same build, to continue.
    with pytest.raises(AlreadyExists):
        engine.create_raft_build("facts-raft", options.model_copy(update={"distractors": 2}))
    assert engine.create_raft_build("facts-raft", options).done == 8

    saved = engine.save_raft_build("facts-raft")
    r = saved.result
    kept = [d for d in drafts if not d.problem]
    assert r["train"] + r["held_out"] == len(kept)
    assert r["dropped"] == sum(1 for d in drafts if d.problem)
    assert engine.services.datasets.kind("facts-raft") == "raft"
    rows = engine.services.datasets.get("facts-raft")
    assert len(rows) == r["train"]
    oracle_count = 0
    for row in rows:
        assert [m["role"] for m in row] == ["system", "user", "assistant"]
        assert row[1]["content"].count("<DOCUMENT>") == 4
        body = row[2]["content"]
        assert "<ANSWER>:" in body and raft_format.split_answer(body)[1]
        quoted = [" ".join(q.split()) for q in raft_format.quotes(body)]
        holders = [t for t in texts.values() if all(q in " ".join(t.split()) for q in quoted)]
        oracle_count += any(t in row[1]["content"] for t in holders)
    assert oracle_count == r["with_oracle"]
    assert r["hard_distractors"] > 0
    plain = engine.services.datasets.get("facts-raft (no documents)")
    assert len(plain) == r["train"] and all("<DOCUMENT>" not in c[0]["content"] for c in plain)
    if r["held_out"]:
        cases = engine.services.eval_sets.get("facts-raft (held out)").cases
        assert len(cases) == r["held_out"] and all(c.sources and c.references for c in cases)
    assert not no_network


def _run(*args, **kw):
    return subprocess.run([TAILOR, *args], capture_output=True, text=True, **kw)


def _best_passage(quote: str) -> str:
    words = set(quote.lower().split())
    return max(
        raft_facts.FACTS, key=lambda f: len(words & set(raft_facts.FACTS[f].lower().split()))
    )


def _complete(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False  # the line the kill cut short
    return True


def _wait(predicate, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_build_kill_resume_train_serve_and_compare(home, tmp_path, no_network):
    """A newcomer's path on the command line: index a folder, build RAFT data (killed with
    SIGKILL and continued), review it, train an adapter, chat as a Level 5 assistant and
    compare Levels 3, 4 and 5 on the held-out questions."""
    docs = raft_facts.build(tmp_path / "docs")
    assert _run("kb", "create", "facts").returncode == 0
    added = _run("kb", "add", "facts", str(docs))
    assert added.returncode == 0, added.stderr
    build = [
        "raft", "build", "--kb", "facts", "--name", "facts-raft", "--distractors", "2",
        "--questions-per-chunk", "2", "--holdout", "0.25", "--negatives", "hard", "--review",
    ]  # fmt: skip
    proc = subprocess.Popen([TAILOR, *build], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    drafts_file = home / "raft" / "facts-raft" / "drafts.jsonl"

    def lines():
        return drafts_file.read_text().splitlines() if drafts_file.exists() else []

    _wait(lambda: len(lines()) >= 2 or proc.poll() is not None, 300, "two drafted passages")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = lines()
    assert 2 <= len(before) < 8, "the kill should land mid-build"
    resumed = _run(*build)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Continuing: {sum(map(_complete, before))}/8" in resumed.stderr
    after = lines()
    assert after[: len(before) - 1] == before[: len(before) - 1]  # finished lines untouched
    chunks = [json.loads(x)["chunk"] for x in after]
    assert len(chunks) == len(set(chunks)) == 8  # every passage drafted once
    assert "tailor raft save facts-raft" in resumed.stdout

    # Review: the reviewer rewrites the small writer's questions (the GUI's review table does
    # the same through save_drafts).
    from engine.api import Engine

    engine = Engine(home)
    try:
        reviewed = raft_facts.reviewed_drafts(engine.services.knowledge.chunks("facts"))
        engine.save_raft_drafts("facts-raft", reviewed)
    finally:
        engine.close()
    saved = _run("raft", "save", "facts-raft")
    assert saved.returncode == 0, saved.stderr
    # Held out by passage: two whole passages (ten questions) the adapters never learn from.
    assert "Saved evaluation set 'facts-raft (held out)': 10 held-out questions" in saved.stdout

    jobs = (("facts-l5", "facts-raft", "40"), ("facts-l4", "facts-raft (no documents)", "30"))
    for name, data, steps in jobs:
        trained = _run(
            "train", "--base", BASE, "--data", data, "--name", name, "--steps", steps,
            "--lr", "5e-4", "--validation", "0", "--save-every", "100",
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
    listed = {
        line.split()[0]: line.split()[1] for line in _run("adapters", "list").stdout.splitlines()
    }
    assert listed == {"facts-l5": "raft", "facts-l4": "lora"}

    engine = Engine(home)
    try:
        assert engine.services.adapters.get("facts-l5").kind == "raft"
        assert engine.services.adapters.get("facts-l4").kind == "lora"
        cases = engine.services.eval_sets.get("facts-raft (held out)").cases
        # Served as Level 5: the RAFT prompt format, the passages in <DOCUMENT> blocks.
        level5 = AssistantConfig(
            model=BASE,
            adapter="facts-l5",
            knowledge_base="facts",
            retrieval_k=3,
            temperature=0.0,
            max_tokens=96,
        )
        engine.services.assistants.create("Facts", level5)
        assert engine.services.assistants.current("Facts").level == 5
        right = []
        for case in cases:
            cid = engine.services.conversations.create("Facts").id
            reply = run(engine.chat(case.input, assistant="Facts", seed=0, conversation_id=cid))
            assert reply.messages[0]["content"] == raft_format.SYSTEM_PROMPT
            assert reply.messages[-1]["content"].count("<DOCUMENT>") == len(reply.sources) == 3
            reasoning, answer = raft_format.split_answer(reply.text)
            quoted = raft_format.quotes(reasoning)
            # The reply comes parsed — answer, reasoning, the passage each quote came from —
            # and the conversation keeps it so.
            if "<ANSWER>:" in reply.text:
                assert (reply.raft.answer, reply.raft.reasoning) == (answer, reasoning)
                assert [q.text for q in reply.raft.quotes if q.text] == quoted
                for q in reply.raft.quotes:
                    holders = [
                        s["n"]
                        for s in reply.sources
                        if raft_format.normalise(q.text) in raft_format.normalise(s["text"])
                    ]
                    assert q.passage == (holders[0] if holders else None)
            else:
                assert reply.raft is None
            assert engine.services.conversations.messages(cid)[-1].raft == reply.raft
            # A small model may re-word a quote a little: the passage it matches best counts.
            oracle = Path(case.sources[0]).name
            if (
                quoted
                and _best_passage(quoted[0]) == oracle
                and case.references[0].lower() in answer.lower()
            ):
                right.append((case.input, reply.text))
        assert right, "no held-out question answered from its passage"
        assistants = engine.services.assistants.names()
        run_id = engine.compare_raft_build("facts-raft", "facts-l5", "facts-l4", (2, 5))
        # The rungs are ad-hoc configurations of the run: no assistant is made for them.
        assert engine.services.assistants.names() == assistants
    finally:
        engine.close()
    compared = _run("eval", "resume", str(run_id))
    assert compared.returncode == 0, compared.stderr
    levels = [line.split()[0:4] for line in compared.stdout.splitlines() if "Level" in line]
    assert any("Level 3" in " ".join(x) for x in levels)
    assert any("Level 4" in " ".join(x) for x in levels)
    assert any("Level 5" in " ".join(x) for x in levels)
    engine = Engine(home)
    try:
        board = engine.scoreboard(run_id)
        assert [b["level"] for b in board] == [3, 3, 4, 5, 5]
        assert all(b["version"] is None for b in board)  # labelled, not assistants' versions
        assert all(b["assistant"].startswith(f"Level {b['level']}") for b in board)
        results = engine.eval_results(run_id)
        raft_rows = [r for r in results if r["level"] == 5]
        # Scored on the text after <ANSWER>:, not on the reasoning around it.
        assert any("<ANSWER>:" in r["response"] for r in raft_rows)
        for r in raft_rows:
            if "<ANSWER>:" in r["response"]:
                answer = raft_format.final_answer(r["response"])
                case = next(c for c in cases if c.input == r["input"])
                from engine.evaluation import metrics

                assert r["scores"]["f1"] == metrics.token_f1(answer, case.references)
    finally:
        engine.close()
    assert not no_network
