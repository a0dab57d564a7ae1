"""Level 3's context and citations with real components: the bundled embedder picks the
sentences that answer, the bundled model answers from them, and the engine cites the passage
that holds the answer (and the scoreboard says how often that was right)."""

from pathlib import Path

import pytest

from engine.api import DEFAULT_ASSISTANT, run
from engine.embeddings import Embedder
from engine.evaluation import metrics as m
from engine.knowledge import answering, context
from engine.knowledge.store import Hit
from engine.types import Case, RunOptions, Target

# A made-up town: nothing a model could know, one sentence per fact, the answer mid-document.
TOWN = (
    "Vellmar is a small harbour town on the northern coast. "
    "Its market square is paved with grey basalt from the nearby quarry. "
    "The town council meets on the first Monday of every month. "
    "Fishing boats leave the harbour before dawn in every season. "
    "The Vellmar lighthouse was built in 1887 by the engineer Ottilie Brandt. "
    "Its lamp can be seen from forty kilometres out at sea. "
    "A ferry to the island of Sorn departs twice a day in summer. "
    "The local bakery is famous for its cardamom buns. "
    "Every August the town holds a regatta for wooden sailing boats. "
    "The railway station closed in 1962 and is now a museum."
)


def hit(text: str, start: int = 0, source: str = "/docs/town.txt", rank: int = 0) -> Hit:
    return Hit(f"c{rank}", source, text, None, None, start, start + len(text), 1.0, 0.5)


def words(text: str) -> int:
    return len(text.split())


def test_sentences_split_without_breaking_initials_titles_or_numbers():
    text = 'The U.S. Army had 3.5 men. Dr. Smith said "no." Then he left!\nA new line'
    assert [text[a:b] for a, b in context.sentence_spans(text)] == [
        "The U.S. Army had 3.5 men.",
        'Dr. Smith said "no."',
        "Then he left!",
        "A new line",
    ]


def test_the_sentence_that_answers_is_kept_with_its_neighbours_within_the_budget():
    embedder = Embedder()
    half = TOWN.index("A ferry")
    hits = [hit(TOWN[:half].strip(), 0, rank=0), hit(TOWN[half:], half, rank=1)]
    question = "Who built the Vellmar lighthouse?"
    passages = context.select(question, hits, embedder.encode, words, 40, neighbours=1)
    assert sum(words(p.text) for p in passages) <= 40
    best = passages[0]
    assert "Ottilie Brandt" in best.text
    # One neighbour either side, no more: a contiguous span of the document, cited as such.
    assert best.text.startswith("Fishing boats") and best.text.endswith("out at sea.")
    assert TOWN[best.start : best.end] == best.text and best.source == "/docs/town.txt"
    assert not any("railway" in p.text or "basalt" in p.text for p in passages)
    # Without neighbours the pick starts at the answer itself (a next pick may extend it).
    alone = context.select(question, hits, embedder.encode, words, 40, neighbours=0)
    assert alone[0].text.startswith("The Vellmar lighthouse was built in 1887")


def test_overlapping_chunks_give_each_sentence_once():
    embedder = Embedder()
    cut = TOWN.index("Its lamp")
    hits = [hit(TOWN[:cut].strip(), 0, rank=0), hit(TOWN[TOWN.index("Fishing") :], 1, rank=1)]
    passages = context.select("When was the lighthouse built?", hits, embedder.encode, words, 500)
    text = " ".join(p.text for p in passages)
    assert text.count("1887") == 1 and text.count("Fishing boats") == 1


def test_the_engine_cites_the_passage_holding_the_answer_not_the_models_marker():
    passages = [
        hit("A ferry to the island of Sorn departs twice a day in summer.", rank=0),
        hit("The Vellmar lighthouse was built in 1887 by the engineer Ottilie Brandt.", rank=1),
    ]
    question = "Who built the Vellmar lighthouse?"
    assert answering.attribute("Ottilie Brandt [1]", question, passages) == [2]
    assert answering.attribute("The engineer Ottilie Brandt built it.", question, passages) == [2]
    # Nothing of the answer is in any passage: only the model's own (valid) markers remain.
    assert answering.attribute("Nobody knows [1] [7]", question, passages) == [1]
    assert answering.attribute("Nobody knows.", question, passages) == []


def test_citation_precision_counts_right_answers_that_cite():
    right = [{"text": "built in 1887 by Ottilie Brandt", "cited": True}, {"text": "x"}]
    wrong = [{"text": "A ferry departs twice a day", "cited": True}]
    refs = ["Ottilie Brandt"]
    assert m.citation_precision("Ottilie Brandt", right, refs) == 1.0
    assert m.citation_precision("Ottilie Brandt", wrong, refs) == 0.0
    assert m.citation_precision("Sorn", right, refs) is None  # a wrong answer has no right cite
    assert m.citation_precision("Ottilie Brandt", [{"text": "x"}], refs) is None  # cites none


@pytest.fixture
def town(engine, tmp_path):
    folder = tmp_path / "town"
    folder.mkdir()
    # Two paragraphs, so the retrieved chunk is long and the answer sits in the middle.
    (folder / "town.txt").write_text(TOWN.replace(" A ferry", "\n\nA ferry"), encoding="utf-8")
    # The whole town is ~150 tokens: a 60-token context must choose.
    engine.create_knowledge_base("town", context_tokens=60)
    engine.add_folders("town", [folder])
    run(engine.index("town"))
    engine.services.assistants.edit(
        DEFAULT_ASSISTANT, knowledge_base="town", temperature=0.0, max_tokens=24
    )
    return folder


def test_level_3_answers_from_the_selected_sentences_and_cites_the_right_one(engine, town):
    question = "In which year was the Vellmar lighthouse built?"
    reply = run(engine.chat(question, assistant=DEFAULT_ASSISTANT))
    assert "1887" in reply.text
    # The reply begins with the knowledge base's reply start, which the model continued.
    start = engine.knowledge_base_config("town").reply_start
    assert start and reply.text.startswith(start) and reply.prompt.endswith(start)
    assert reply.messages[-1] == {"role": "assistant", "content": start}
    user_turn = reply.messages[-2]["content"]
    assert "Ottilie Brandt" in user_turn and "cardamom" not in user_turn
    # The default layout: the question, the passages, the question again.
    assert user_turn.startswith(f"Question: {question}\n\nContext:\n")
    assert user_turn.endswith(f"\n\nQuestion: {question}")
    cited = [s for s in reply.sources if s["cited"]]
    assert len(cited) == 1 and "1887" in cited[0]["text"]
    assert Path(cited[0]["source"]).name == "town.txt"
    # The whole-chunk setting, for comparison: the full document in a longer prompt.
    # Without a reply start the model begins its reply itself.
    engine.configure_knowledge_base("town", reply_start="")
    unled = run(engine.chat(question, assistant=DEFAULT_ASSISTANT))
    assert unled.messages[-1] == {"role": "user", "content": user_turn}
    assert not unled.text.startswith(start) and unled.prompt.endswith("assistant\n")
    # The whole-chunk setting, for comparison: the full document in a longer prompt.
    engine.configure_knowledge_base("town", context="chunks")
    whole = run(engine.chat(question, assistant=DEFAULT_ASSISTANT))
    assert "cardamom" in whole.messages[-1]["content"]
    assert whole.stats.prompt_tokens > unled.stats.prompt_tokens


def test_the_scoreboard_shows_how_often_citations_are_right(engine, town, no_network):
    question = "In which year was the Vellmar lighthouse built?"
    engine.save_eval_set("town", [Case("year", question, ("1887",), ("town.txt",))])
    run_id = engine.create_eval_run(
        "town", [Target(DEFAULT_ASSISTANT)], RunOptions(max_tokens=24, temperature=0.0)
    )
    run(engine.evaluate(run_id))
    [row] = engine.scoreboard(run_id)
    assert row["metrics"]["contains"]["value"] == 1.0
    assert row["metrics"]["citation"]["value"] == 1.0
