"""RAFT (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain Specific RAG"): training
data that teaches a model to answer from retrieved passages — find the right one among
distractors, quote it, and give a short answer — built from a knowledge base the user indexed.

A build has three stages, each visible and resumable:

1. **Drafts** (a background job): for every chosen chunk a local *writer* model writes questions
   it answers, and an answer that reasons from the chunk, quoting it between
   ``##begin_quote##`` and ``##end_quote##`` and ending with ``<ANSWER>: …``. Every quote is
   checked against the chunk; a draft whose quotes are not in it is dropped and counted. With
   ``reasoning="writer-or-extract"`` (the default) a draft whose model-written reasoning fails
   the check gets reasoning assembled from the chunk's sentence holding the answer instead, so
   a small writer still yields usable data. Drafts are appended to ``drafts.jsonl`` one chunk at
   a time, so a stopped or killed build continues where it stopped.
2. **Review**: the user reads and edits the drafts (quotes are re-checked on save).
3. **Save**: each draft becomes an example — the question with the oracle chunk plus k
   distractors (random chunks, or hard negatives: the chunks the retriever ranks highest that
   are not the oracle), shuffled; in a fraction 1 − P the oracle is replaced by one more distractor.
   Saved are the RAFT dataset, the same questions without documents (the Level 4 comparison),
   and an evaluation set of held-out questions.

Served, a RAFT adapter sees exactly the training prompt: :data:`SYSTEM_PROMPT` and the
retrieved passages in ``<DOCUMENT>`` blocks before the question.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import storage
from engine.errors import AlreadyExists, InvalidData, NotFound, TailorError
from engine.knowledge.store import Hit
from engine.models.runtime import CancelToken, ModelUnloaded, SamplingParams

BEGIN_QUOTE = "##begin_quote##"
END_QUOTE = "##end_quote##"
ANSWER_TAG = "<ANSWER>:"

SYSTEM_PROMPT = (
    "Answer the question using the documents; some of them are unrelated to it. Reason step "
    f"by step, copy the sentences you rely on between {BEGIN_QUOTE} and {END_QUOTE}, and end "
    f"with {ANSWER_TAG} followed by the short answer."
)

REASONING_PROMPT = f"""Question: {{question}}
Context: {{passage}}

Answer the question using the context above. First reason step by step. When you copy a \
sentence from the context, put it between {BEGIN_QUOTE} and {END_QUOTE}. End with the final \
answer in the form {ANSWER_TAG} $answer (a few words)."""

REASONING_DEMO = (
    REASONING_PROMPT.format(
        question="In which year was the Hubble telescope launched?",
        passage="The Hubble telescope was launched in 1990 aboard the shuttle Discovery. It "
        "orbits about 540 km above the Earth.",
    ),
    f"The context says when Hubble was launched: {BEGIN_QUOTE}The Hubble telescope was "
    f"launched in 1990 aboard the shuttle Discovery.{END_QUOTE} So it was launched in 1990.\n"
    f"{ANSWER_TAG} 1990",
)

QUOTE = re.compile(re.escape(BEGIN_QUOTE) + r"(.*?)" + re.escape(END_QUOTE), re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

Reasoning = Literal["writer", "extract", "writer-or-extract"]


# -- the format ------------------------------------------------------------------------------


def format_prompt(question: str, documents: list[str]) -> str:
    """The user turn RAFT trains and serves with: each document in a ``<DOCUMENT>`` block,
    then the question."""
    return "".join(f"<DOCUMENT>{d.strip()}</DOCUMENT>\n" for d in documents) + question.strip()


def split_answer(text: str) -> tuple[str, str]:
    """(reasoning, final answer) of a RAFT reply; the answer is ``""`` without the tag."""
    head, tag, tail = text.rpartition(ANSWER_TAG)
    if not tag:
        return text.strip(), ""
    return head.strip(), tail.strip()


def final_answer(text: str) -> str:
    """The text after ``<ANSWER>:`` if the reply has one, else the whole reply."""
    return split_answer(text)[1] if ANSWER_TAG in text else text


def quotes(text: str) -> list[str]:
    """The passages a reply copied, in order."""
    return [q.strip() for q in QUOTE.findall(text) if q.strip()]


def normalise(text: str) -> str:
    """Whitespace collapsed: how quotes are compared with passages."""
    return " ".join(text.split())


def check_reasoning(text: str, oracle: str) -> str:
    """Why ``text`` is not a usable RAFT answer for the ``oracle`` chunk ("" if it is)."""
    reasoning, answer = split_answer(text)
    if ANSWER_TAG not in text:
        return f"no {ANSWER_TAG} at the end"
    if not answer:
        return f"nothing after {ANSWER_TAG}"
    found = quotes(reasoning)
    if not found:
        return "no quote from the passage"
    where = normalise(oracle)
    for q in found:
        if normalise(q) not in where:
            return "a quote is not in the passage"
    return ""


def draft_problem(question: str, answer: str, reasoning: str, oracle: str | None) -> str:
    """Why a (reviewed) draft cannot become a training example ("" if it can)."""
    if oracle is None:
        return "the passage is no longer in the knowledge base"
    if not question.strip():
        return "no question written"
    if not answer.strip():
        return "no answer"
    problem = check_reasoning(reasoning, oracle)
    if problem:
        return problem
    if normalise(split_answer(reasoning)[1]).lower() != normalise(answer).strip(" .").lower():
        return f"the answer differs from the one after {ANSWER_TAG}"
    return ""


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def extract_reasoning(answer: str, passage: str) -> str | None:
    """Reasoning assembled from the passage: the shortest sentence that contains the answer,
    quoted, then the answer. None when no sentence contains it."""
    want = normalise(answer).strip(" .").lower()
    if not want:
        return None
    holding = [s for s in sentences(passage) if want in normalise(s).lower()]
    if not holding:
        return None
    sentence = min(holding, key=len)
    short = answer.strip().rstrip(".")
    return (
        f"The document that answers this says: {BEGIN_QUOTE}{sentence}{END_QUOTE} "
        f"So the answer is {short}.\n{ANSWER_TAG} {short}"
    )


# -- options and records ---------------------------------------------------------------------


class RaftOptions(BaseModel):
    """How a RAFT dataset is built. Defaults follow the paper and its reference code."""

    model_config = ConfigDict(extra="forbid")

    knowledge_base: str
    writer: str = Field(description="The local model that writes questions and answers.")
    questions_per_chunk: int = Field(1, ge=1, le=10)
    distractors: int = Field(4, ge=0, le=20)
    p_oracle: float = Field(0.8, ge=0.0, le=1.0, description="Share of examples with the oracle.")
    # Hard negatives did not measure better than random ones (bench/raft.py: F1 0.04 vs 0.07
    # at k = 5, intervals overlapping), so the reference code's random distractors stay default.
    negatives: Literal["hard", "random"] = "random"
    reasoning: Reasoning = "writer-or-extract"
    chunks: int | None = Field(None, ge=1, description="How many chunks to use; None: all.")
    folder: str | None = Field(None, description="Only chunks from files under this folder.")
    holdout: float = Field(0.1, ge=0.0, le=0.5, description="Share of questions held out.")
    seed: int = 3407


def validate_options(data: dict) -> RaftOptions:
    try:
        return RaftOptions(**data)
    except ValidationError as exc:
        raise InvalidData.from_validation(exc, "The RAFT settings") from None


@dataclass
class RaftDraft:
    """One question about one chunk, its answer and the reasoning that will be trained on.
    ``problem`` says why it would be dropped ("" when it is usable)."""

    chunk_id: str
    source: str
    question: str
    answer: str
    reasoning: str
    origin: str  # "writer" or "extract"
    problem: str = ""


@dataclass
class BuildInfo:
    name: str
    options: RaftOptions
    status: str  # "drafting", "stopped", "review", "saved"
    total: int  # chunks chosen
    done: int  # chunks drafted
    folder: Path
    result: dict = field(default_factory=dict)

    @property
    def summary(self) -> str:
        if self.status == "saved":
            r = self.result
            return (
                f"saved: {r['train']} training examples ({r['with_oracle']} with the oracle), "
                f"{r['held_out']} held-out questions"
            )
        return f"{self.status}: {self.done}/{self.total} chunks drafted"


@dataclass
class BuildProgress:
    name: str
    done: int
    total: int
    kept: int
    dropped: int
    reasons: dict[str, int]
    elapsed: float
    eta: float | None
    latest: list[RaftDraft]


def _twin_names(name: str) -> tuple[str, str]:
    """The no-documents dataset and the held-out evaluation set a build also saves."""
    return f"{name} (no documents)", f"{name} (held out)"


def _hold_out(
    usable: list[RaftDraft], share: float, rng: random.Random
) -> tuple[list[RaftDraft], list[RaftDraft]]:
    """(held out, train): whole passages are held out — every question about a held-out
    passage — until about ``share`` of the questions are, so a held-out answer is never
    learnt from a sibling question (at least one passage each way when there are two)."""
    per_passage = Counter(d.chunk_id for d in usable)
    passages = list(per_passage)
    rng.shuffle(passages)
    want = round(share * len(usable))
    chosen: set[str] = set()
    count = 0
    for cid in passages[:-1]:  # always leave one passage to train on
        if count >= want or (count and count + per_passage[cid] > want * 1.5):
            break
        chosen.add(cid)
        count += per_passage[cid]
    if share and not chosen and len(passages) >= 2:
        chosen.add(passages[0])
    held = [d for d in usable if d.chunk_id in chosen]
    return held, [d for d in usable if d.chunk_id not in chosen]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


@dataclass
class Examples:
    rows: list[list[dict]]  # RAFT conversations: system, documents + question, reasoning
    plain: list[list[dict]]  # the same questions and answers without documents
    with_oracle: int
    hard: int  # distractors that were the retriever's hard negatives


def make_examples(
    drafts: list[RaftDraft],
    chunks: list[Hit],
    options: RaftOptions,
    rng: random.Random,
    search=None,
) -> Examples:
    """One training example per draft: its question with the oracle chunk and k distractors,
    shuffled — or, in a fraction 1 − P, k + 1 distractors and no oracle. Distractors are the
    retriever's best non-oracle chunks (``search(question, n)``, hard negatives) topped up with
    random ones. A chunk holding the quoted evidence (an overlapping neighbour of the oracle)
    is never a distractor."""
    by_id = {c.id: c for c in chunks}
    normed = {c.id: normalise(c.text) for c in chunks}
    rows, plain, with_oracle, hard = [], [], 0, 0
    for d in drafts:
        oracle = by_id[d.chunk_id]
        keep = rng.random() < options.p_oracle
        need = options.distractors + (0 if keep else 1)
        evidence = [normalise(q) for q in quotes(d.reasoning)]

        def usable(cid: str, picked: list[str], oracle=oracle, evidence=evidence) -> bool:
            return (
                cid in normed
                and cid != oracle.id
                and cid not in picked
                and not any(e in normed[cid] for e in evidence)
            )

        picked: list[str] = []
        if options.negatives == "hard" and need and search is not None:
            for h in search(d.question, need + 8):
                if len(picked) < need and usable(h.id, picked):
                    picked.append(h.id)
        hard += len(picked)
        if len(picked) < need:  # random ones: a shuffled pass, stopping once there are enough
            for i in rng.sample(range(len(chunks)), len(chunks)):
                if len(picked) == need:
                    break
                if usable(chunks[i].id, picked):
                    picked.append(chunks[i].id)
        docs = [by_id[cid].text for cid in picked]
        if keep:
            docs.append(oracle.text)
            with_oracle += 1
        rng.shuffle(docs)
        rows.append(
            [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": format_prompt(d.question, docs)},
                {"role": "assistant", "content": d.reasoning},
            ]
        )
        plain.append(
            [
                {"role": "user", "content": d.question},
                {"role": "assistant", "content": d.answer.strip()},
            ]
        )
    return Examples(rows, plain, with_oracle, hard)


# -- builds ----------------------------------------------------------------------------------


class RaftBuilds:
    """RAFT dataset builds, each a folder ``<workspace>/raft/<label>/`` holding ``build.json``
    (name, options, chosen chunks, status) and ``drafts.jsonl`` (one line per drafted chunk).

    A build's record is its ``build.json``, like a training job's folder, not a database row:
    the folder is claimed once when the build is made (:func:`engine.storage.claim_folder`,
    so ``日本`` and ``中文``, or ``a b`` and ``a-b``, never share one) and a build is found by
    the name written inside, never by turning the name into a path. That keeps builds made by
    earlier versions (``raft/<slug>/``) working unchanged, with no migration to go wrong.
    """

    def __init__(self, engine):
        self.engine = engine
        self.folder = engine.workspace.home / "raft"

    # -- records -----------------------------------------------------------------------------

    def _builds(self) -> dict[str, Path]:
        """Each build's name and its ``build.json``, in folder order (the first wins)."""
        found: dict[str, Path] = {}
        if not self.folder.is_dir():
            return found
        for f in sorted(self.folder.glob("*/build.json")):
            try:
                name = json.loads(f.read_text(encoding="utf-8"))["name"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a build folder being deleted or half-written
            found.setdefault(str(name), f)
        return found

    def names(self) -> list[str]:
        return list(self._builds())

    def list(self) -> list[BuildInfo]:
        return [self.get(n) for n in self.names()]

    def get(self, name: str) -> BuildInfo:
        path = self._builds().get(name)
        if path is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No RAFT build named '{name}'. Builds: {known}.")
        data = json.loads(path.read_text(encoding="utf-8"))
        return BuildInfo(
            name=data["name"],
            options=RaftOptions(**data["options"]),
            status=data["status"],
            total=len(data["chunks"]),
            done=len(self._drafted(path.parent)),
            folder=path.parent,
            result=data.get("result", {}),
        )

    def create(self, name: str, options: RaftOptions) -> BuildInfo:
        """A new build choosing its chunks now, or — same name, same options, not saved yet —
        the unfinished one, to continue."""
        name = storage.check_name(name, "A RAFT dataset")
        if name in self._builds():
            info = self.get(name)
            if info.status != "saved" and info.options == options:
                return info
            raise AlreadyExists(
                f"A RAFT build named '{name}' already exists ({info.summary}); pick another "
                "name, or delete it first."
            )
        self._check_names_free(name)
        self.engine.models.get(options.writer)
        chunks = [
            c
            for c in self.engine.knowledge.chunks(options.knowledge_base, options.folder)
            if len(c.text.strip()) >= 40  # titles and fragments make no question
        ]
        if len(chunks) < 2:
            raise TailorError(
                f"Knowledge base '{options.knowledge_base}' has {len(chunks)} usable passage(s)"
                f"{' under ' + options.folder if options.folder else ''}: RAFT needs at least "
                "two (one to ask about, others to distract)."
            )
        rng = random.Random(options.seed)
        rng.shuffle(chunks)
        if options.chunks:
            chunks = chunks[: options.chunks]
        folder = storage.claim_folder(self.folder, name, "raft")
        try:
            (folder / "drafts.jsonl").touch()
            _write_json(
                folder / "build.json",
                {
                    "name": name,
                    "options": options.model_dump(),
                    "status": "drafting",
                    "chunks": [c.id for c in chunks],
                },
            )
        except BaseException:
            storage.remove(self.folder, folder)  # claimed above: nobody else's
            raise
        return self.get(name)

    def delete(self, name: str) -> None:
        """Delete a build's folder (its drafts); the datasets and evaluation set it saved
        stay. Only ever that folder, and only inside the workspace's ``raft/``."""
        folder = self.get(name).folder
        if not storage.remove(self.folder, folder):
            raise TailorError(
                f"RAFT build '{name}' is kept in {folder}, which is not a folder of its own "
                "inside the workspace's raft folder; Tailor leaves it as it is."
            )

    def _check_names_free(self, name: str) -> None:
        """A build saves three things; refuse a name whose results are already taken before
        hours of drafting, not after."""
        plain, held = _twin_names(name)
        taken = [f"dataset '{n}'" for n in (name, plain) if n in self.engine.datasets.names()]
        if held in self.engine.eval_sets.names():
            taken.append(f"evaluation set '{held}'")
        if taken:
            raise AlreadyExists(
                f"A build named '{name}' would save {' and '.join(taken)}, which already "
                "exist; pick another name or delete them."
            )

    # -- stage 1: drafts ---------------------------------------------------------------------

    def draft(self, name: str, cancel: CancelToken | None = None) -> Iterator[BuildProgress]:
        """Draft every chunk not drafted yet; yields progress after each chunk."""
        info = self.get(name)
        options = info.options
        build = json.loads((info.folder / "build.json").read_text(encoding="utf-8"))
        by_id = {c.id: c for c in self.engine.knowledge.chunks(options.knowledge_base)}
        done = self._drafted(info.folder)
        todo = [cid for cid in build["chunks"] if cid not in done]
        missing = [cid for cid in todo if cid not in by_id]
        if missing:
            raise TailorError(
                f"{len(missing)} chosen passage(s) are no longer in knowledge base "
                f"'{options.knowledge_base}' (it was re-indexed or changed). Delete this build "
                "and start it again."
            )
        self._repair(info.folder)
        drafts = self.drafts(name)
        start, fresh = time.perf_counter(), 0
        total = len(build["chunks"])
        count = total - len(todo)

        def progress(latest):
            elapsed = time.perf_counter() - start
            eta = elapsed / fresh * (total - count) if fresh else None
            kept = [d for d in drafts if not d.problem]
            reasons = Counter(d.problem for d in drafts if d.problem)
            return BuildProgress(
                name,
                count,
                total,
                len(kept),
                len(drafts) - len(kept),
                dict(reasons),
                elapsed,
                eta,
                latest,
            )

        if not todo:
            self._set_status(info.folder, "review")
            yield progress([])
            return
        self._set_status(info.folder, "drafting")
        try:
            self.engine.load_model(options.writer)
            yield progress([])
            for cid in todo:
                if cancel is not None and cancel.cancelled:
                    self._set_status(info.folder, "stopped")
                    return
                chunk = by_id[cid]
                made = self._draft_chunk(chunk, options, options.seed + count, cancel)
                if cancel is not None and cancel.cancelled:  # mid-chunk: redone on resume
                    self._set_status(info.folder, "stopped")
                    return
                with (info.folder / "drafts.jsonl").open("a", encoding="utf-8") as f:
                    line = {"chunk": cid, "drafts": [asdict(d) for d in made]}
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
                drafts.extend(made)
                count += 1
                fresh += 1
                yield progress(made)
        except BaseException:
            self._set_status(info.folder, "stopped")  # nothing runs it now; Continue resumes
            raise
        self._set_status(info.folder, "review")

    def draft_to_end(self, name: str, cancel: CancelToken | None = None) -> BuildProgress:
        """Run :meth:`draft` to the end (headless use); return the final progress."""
        return deque(self.draft(name, cancel), maxlen=1)[0]

    def _draft_chunk(
        self, chunk: Hit, options: RaftOptions, seed: int, cancel: CancelToken | None
    ) -> list[RaftDraft]:
        from engine.synthetic import ask

        def dropped(problem: str) -> list[RaftDraft]:
            return [RaftDraft(chunk.id, chunk.source, "", "", "", "writer", problem)]

        try:
            pairs = ask(
                self.engine, options.writer, chunk.text, options.questions_per_chunk, seed, cancel
            )
        except (NotFound, ModelUnloaded):
            raise
        except TailorError as exc:  # e.g. a passage too long for the writer's context
            return dropped(f"the writer failed: {exc}")
        if not pairs:
            return dropped("no question written")
        made = []
        for question, answer in pairs:
            reasoning, origin, problem = "", "writer", ""
            if options.reasoning != "extract":
                try:
                    reasoning = self._write_reasoning(
                        options.writer, question, chunk.text, seed, cancel
                    )
                except (NotFound, ModelUnloaded):
                    raise
                except TailorError as exc:
                    reasoning = f"(the writer failed: {exc})"
                problem = check_reasoning(reasoning, chunk.text)
                if not problem:  # the reasoning's own answer is the answer
                    answer = split_answer(reasoning)[1]
            if options.reasoning == "extract" or (
                problem and options.reasoning == "writer-or-extract"
            ):
                extracted = extract_reasoning(answer, chunk.text)
                if extracted:
                    reasoning, origin, problem = extracted, "extract", ""
                elif options.reasoning == "extract":
                    problem = "the answer is not in the passage"
            made.append(
                RaftDraft(chunk.id, chunk.source, question, answer, reasoning, origin, problem)
            )
        return made

    def _write_reasoning(
        self, writer: str, question: str, passage: str, seed: int, cancel: CancelToken | None
    ) -> str:
        demo, reply_text = REASONING_DEMO
        messages = [
            {"role": "user", "content": demo},
            {"role": "assistant", "content": reply_text},
            {
                "role": "user",
                "content": REASONING_PROMPT.format(question=question, passage=passage.strip()),
            },
        ]
        reply = self.engine.generate(
            writer, messages, SamplingParams(temperature=0.3, max_tokens=256, seed=seed), cancel
        )
        return reply.text.strip() if reply else ""

    # -- stage 2: review ---------------------------------------------------------------------

    def drafts(self, name: str) -> list[RaftDraft]:
        info = self.get(name)
        return [d for line in self._lines(info.folder) for d in line["drafts"]]

    def save_drafts(self, name: str, drafts: list[RaftDraft]) -> list[RaftDraft]:
        """Replace the drafts with reviewed ones (edited, or deleted by leaving them out);
        every draft's reasoning is checked again against its chunk."""
        info = self.get(name)
        if info.status == "saved":
            raise TailorError(f"RAFT dataset '{name}' is already saved; its drafts are final.")
        return self._write_checked(
            info, drafts, self.engine.knowledge.chunks(info.options.knowledge_base)
        )

    def _write_checked(
        self, info: BuildInfo, drafts: list[RaftDraft], chunks: list[Hit]
    ) -> list[RaftDraft]:
        texts = {c.id: c.text for c in chunks}
        checked = [
            replace(
                d, problem=draft_problem(d.question, d.answer, d.reasoning, texts.get(d.chunk_id))
            )
            for d in drafts
        ]
        by_chunk: dict[str, list[RaftDraft]] = {}
        for d in checked:
            by_chunk.setdefault(d.chunk_id, []).append(d)
        # Drafted chunks stay drafted even when the user deleted all their questions.
        tmp = info.folder / "drafts.partial"
        with tmp.open("w", encoding="utf-8") as f:
            for cid in self._drafted(info.folder):
                line = {"chunk": cid, "drafts": [asdict(d) for d in by_chunk.get(cid, [])]}
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        tmp.replace(info.folder / "drafts.jsonl")
        return checked

    # -- stage 3: the datasets -----------------------------------------------------------------

    def save(self, name: str) -> BuildInfo:
        """Turn the usable drafts into the RAFT dataset ``name``, the same questions without
        documents (``name (no documents)``) and the held-out evaluation set
        (``name (held out)``)."""
        from engine.evaluation.sets import Case

        info = self.get(name)
        options = info.options
        if info.status == "saved":
            return info
        if info.done < info.total:
            raise TailorError(
                f"RAFT build '{name}' has drafted {info.done} of {info.total} passages; "
                "finish drafting first (it continues where it stopped)."
            )
        # Drafts may have been edited by hand (``tailor raft build --review``): check them all.
        chunks = self.engine.knowledge.chunks(options.knowledge_base)
        drafts = [d for line in self._lines(info.folder) for d in line["drafts"]]
        checked = self._write_checked(info, drafts, chunks)
        usable = [d for d in checked if not d.problem]
        if not usable:
            reasons = Counter(d.problem for d in checked)
            listed = "; ".join(f"{n} × {why}" for why, n in reasons.most_common()) or "no drafts"
            raise TailorError(
                f"No usable examples: every draft was dropped ({listed}). Try a bigger writer "
                "model, or reasoning 'extract' (quotes taken from the passage itself)."
            )
        plain_name, eval_name = _twin_names(name)
        self._check_names_free(name)
        held, train = _hold_out(usable, options.holdout, random.Random(options.seed))
        rng = random.Random(options.seed + 1)

        def search(question: str, k: int) -> list[Hit]:
            return self.engine.knowledge.search(options.knowledge_base, question, k)

        made = make_examples(train, chunks, options, rng, search)
        rows, plain, with_oracle = made.rows, made.plain, made.with_oracle
        kb = options.knowledge_base
        saved: list = []
        try:  # all three or none, so a failed save can simply be retried
            self.engine.datasets.save(name, rows, f"RAFT from knowledge base {kb}", kind="raft")
            saved.append(lambda: self.engine.datasets.delete(name))
            self.engine.datasets.save(plain_name, plain, f"RAFT questions of {name}, no documents")
            saved.append(lambda: self.engine.datasets.delete(plain_name))
            if held:
                self.engine.eval_sets.create(
                    eval_name,
                    [
                        Case(f"q{i + 1}", d.question, (d.answer.strip(),), (d.source,))
                        for i, d in enumerate(held)
                    ],
                    f"Held out of RAFT dataset {name} (whole passages kept out of training)",
                )
        except BaseException:
            for undo in reversed(saved):
                undo()
            raise
        result = {
            "train": len(rows),
            "with_oracle": with_oracle,
            "held_out": len(held),
            "eval_set": eval_name if held else None,
            "plain_dataset": plain_name,
            "dropped": sum(1 for d in checked if d.problem),
            "reasons": dict(Counter(d.problem for d in checked if d.problem)),
            "extracted": sum(1 for d in usable if d.origin == "extract"),
            "hard_distractors": made.hard,
        }
        self._set_status(info.folder, "saved", result)
        return self.get(name)

    # -- comparing the rungs -----------------------------------------------------------------

    def compare(
        self,
        name: str,
        raft_adapter: str,
        plain_adapter: str | None = None,
        retrieval_ks: tuple[int, ...] = (2, 5, 10),
        max_tokens: int = 256,
    ) -> int:
        """An evaluation run on the build's held-out set comparing Level 3 (base + RAG),
        Level 4 (the adapter trained on the questions without documents, if given) and Level 5
        (RAFT adapter + RAG) at each number of retrieved passages. Returns the run id."""
        from engine.assistants import AssistantConfig
        from engine.evaluation.runs import RunOptions, Target

        info = self.get(name)
        if info.status != "saved" or not info.result.get("eval_set"):
            raise TailorError(
                f"RAFT build '{name}' has no held-out evaluation set yet: save it first."
            )
        raft = self.engine.adapters.get(raft_adapter)
        if raft.kind != "raft":
            raise TailorError(f"Adapter '{raft_adapter}' was not trained on a RAFT dataset.")
        kb = info.options.knowledge_base
        if not retrieval_ks or any(not 1 <= k <= 50 for k in retrieval_ks):
            raise TailorError("Numbers of retrieved passages must be between 1 and 50.")
        if plain_adapter:  # refused here, with the reason, if trained on another model
            self.engine.load_options(raft.base_model, plain_adapter)
        common = {"model": raft.base_model, "temperature": 0.0, "max_tokens": max_tokens}
        targets = []
        for k in retrieval_ks:
            config = AssistantConfig(**common, knowledge_base=kb, retrieval_k=k)
            targets.append(self._version(f"{name} · Level 3 · k={k}", config, "base + RAG"))
        if plain_adapter:
            config = AssistantConfig(**common, adapter=plain_adapter)
            targets.append(self._version(f"{name} · Level 4", config, "fine-tuned, no documents"))
        for k in retrieval_ks:
            config = AssistantConfig(
                **common, adapter=raft_adapter, knowledge_base=kb, retrieval_k=k
            )
            targets.append(self._version(f"{name} · Level 5 · k={k}", config, "RAFT + RAG"))
        return self.engine.evals.create(
            info.result["eval_set"],
            [Target(a, v) for a, v in targets],
            RunOptions(temperature=0.0, max_tokens=max_tokens),
        )

    def _version(self, assistant: str, config, note: str) -> tuple[str, int]:
        """The version of ``assistant`` holding exactly ``config`` (made if needed)."""
        assistants = self.engine.assistants
        if assistant not in assistants.names():
            return assistant, assistants.create(assistant, config, note).version
        for v in assistants.history(assistant):
            if v.config == config:
                return assistant, v.version
        return assistant, assistants.save(assistant, config, note).version

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _lines(folder: Path) -> list[dict]:
        """The drafted chunks. A last line cut short by a kill is ignored (that chunk is
        drafted again); any other bad line — a slip while editing by hand — is an error that
        names it, rather than drafts silently lost."""
        path = folder / "drafts.jsonl"
        try:
            raw_lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        lines = []
        for number, raw in enumerate(raw_lines, 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                line["drafts"] = [RaftDraft(**d) for d in line["drafts"]]
                line["chunk"] = str(line["chunk"])
            except (ValueError, TypeError, KeyError) as exc:
                if number == len(raw_lines):
                    continue
                raise TailorError(
                    f"{path}, line {number}, is not a valid drafts line ({exc}); fix or "
                    "delete that line."
                ) from None
            lines.append(line)
        return lines

    def _repair(self, folder: Path) -> None:
        """Rewrite ``drafts.jsonl`` without a line cut short by a kill, so appends start on a
        line of their own (that chunk is drafted again)."""
        good = [
            json.dumps(line | {"drafts": [asdict(d) for d in line["drafts"]]}, ensure_ascii=False)
            for line in self._lines(folder)
        ]
        tmp = folder / "drafts.partial"
        tmp.write_text("".join(g + "\n" for g in good), encoding="utf-8")
        tmp.replace(folder / "drafts.jsonl")

    def _drafted(self, folder: Path) -> list[str]:
        seen: dict[str, None] = {}
        for line in self._lines(folder):
            seen[line["chunk"]] = None
        return list(seen)

    @staticmethod
    def _set_status(folder: Path, status: str, result: dict | None = None) -> None:
        path = folder / "build.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["status"] = status
        if result is not None:
            data["result"] = result
        _write_json(path, data)
