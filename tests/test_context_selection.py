"""Level 3 context selection on real chunk layouts: a sentence cut by a chunk's edge is not
given twice, a picked sentence can grow within its paragraph, never past it, and the command
line sets the answer-context settings."""

import json
import subprocess
import sys
from pathlib import Path

from engine.embeddings import Embedder
from engine.knowledge import context
from tests.test_answer_quality import TOWN, hit, words

DOC = TOWN.replace(" A ferry", "\n\nA ferry")  # two paragraphs
QUESTION = "Who built the Vellmar lighthouse?"


def test_a_sentence_cut_at_a_chunks_edge_is_given_once_whole():
    # Windowed chunks overlap mid-sentence: the first ends inside the lighthouse sentence,
    # the second holds it whole.
    cut = DOC.index("by the engineer")
    first = DOC[:cut].strip()
    second_start = DOC.index("Fishing")
    hits = [hit(first, 0, rank=0), hit(DOC[second_start:], second_start, rank=1)]
    passages = context.select(QUESTION, hits, Embedder().encode, words, 500, neighbours=0)
    text = " ".join(p.text for p in passages)
    assert text.count("The Vellmar lighthouse was built") == 1
    assert "Ottilie Brandt" in passages[0].text
    for p in passages:
        assert DOC[p.start : p.end] == p.text


def test_a_pick_grows_within_its_paragraph_up_to_the_budget():
    half = DOC.index("A ferry")
    hits = [hit(DOC[:half].strip(), 0, rank=0), hit(DOC[half:], half, rank=1)]
    encode = Embedder().encode
    alone = context.select(QUESTION, hits, encode, words, 20, 0, 0.5, paragraph=True)
    assert alone[0].text.startswith("The Vellmar lighthouse") and len(alone) == 1
    grown = context.select(QUESTION, hits, encode, words, 40, 0, 0.5, paragraph=True)
    best = grown[0]
    assert sum(words(p.text) for p in grown) <= 40
    # A sentence before, then one after: the answer stays in the middle of its surroundings.
    assert best.text.startswith("Fishing boats") and best.text.endswith("out at sea.")
    assert DOC[best.start : best.end] == best.text
    # The whole first paragraph fits in 80 words; the ferry sentence opens the next one.
    whole = context.select(QUESTION, hits, encode, words, 80, 0, 0.5, paragraph=True)
    assert whole[0].text.startswith("Vellmar is a small harbour town")
    assert whole[0].text.endswith("out at sea.")


def test_the_command_line_sets_the_answer_context(home):
    tailor = str(Path(sys.executable).parent / "tailor")

    def kb(*args):
        return subprocess.run(
            [tailor, "kb", *args], capture_output=True, text=True, check=True, timeout=120
        ).stdout

    kb("create", "notes", "--context-tokens", "80", "--context-paragraph")
    out = json.loads(
        kb("configure", "notes", "--no-context-paragraph", "--prompt-style", "sources")
    )
    assert (out["context_tokens"], out["context_paragraph"], out["prompt_style"]) == (
        80,
        False,
        "sources",
    )
    assert out["context"] == "sentences" and out["lexical_weight"] == 0.5  # untouched
