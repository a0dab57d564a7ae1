"""RAFT builds on disk and their three stages: choose passages, draft (resumable, one passage
at a time), review, save the datasets and the held-out set; and what the Level 3/4/5
comparison on a saved build needs (the comparison itself is an evaluation run)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Generator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine import storage
from engine.errors import AlreadyExists, NotFound, TailorError
from engine.evaluation.sets import Case, EvalSets
from engine.events import Progress, operation
from engine.finetune.adapters import Adapters
from engine.finetune.datasets import Datasets
from engine.knowledge.bases import KnowledgeBases
from engine.knowledge.store import Hit
from engine.models.generation import TextGenerator
from engine.models.library import ModelLibrary
from engine.models.runtime import CancelToken
from engine.raft.drafting import RaftDraft, draft_chunk
from engine.raft.examples import hold_out, make_examples
from engine.raft.format import draft_problem
from engine.raft.options import RaftOptions
from engine.workspace import Workspace


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


@dataclass(frozen=True)
class DraftingDetail:
    """What a build's drafting has made so far: :attr:`engine.events.Progress.detail` of
    ``Engine.draft_raft``. ``reasons`` counts the dropped drafts by why; ``latest`` are the
    drafts of the passage just drafted."""

    kept: int
    dropped: int
    reasons: dict[str, int]
    latest: tuple[RaftDraft, ...] = ()


@dataclass(frozen=True)
class Ladder:
    """What the Level 3/4/5 comparison of a saved build runs on: its held-out evaluation set,
    the RAFT adapter's base model and the build's knowledge base."""

    eval_set: str
    model: str
    knowledge_base: str


def _twin_names(name: str) -> tuple[str, str]:
    """The no-documents dataset and the held-out evaluation set a build also saves."""
    return f"{name} (no documents)", f"{name} (held out)"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


class RaftBuilds:
    """RAFT dataset builds, each a folder ``<workspace>/raft/<label>/`` holding ``build.json``
    (name, options, chosen chunks, status) and ``drafts.jsonl`` (one line per drafted chunk).

    A build's record is its ``build.json``, like a training job's folder, not a database row:
    the folder is claimed once when the build is made (:func:`engine.storage.claim_folder`,
    so ``日本`` and ``中文``, or ``a b`` and ``a-b``, never share one) and a build is found by
    the name written inside, never by turning the name into a path. That keeps builds made by
    earlier versions (``raft/<slug>/``) working unchanged, with no migration to go wrong.
    """

    def __init__(
        self,
        workspace: Workspace,
        models: ModelLibrary,
        knowledge: KnowledgeBases,
        datasets: Datasets,
        eval_sets: EvalSets,
        adapters: Adapters,
        writer: TextGenerator,
    ):
        self.folder = workspace.home / "raft"
        self._models = models
        self._knowledge = knowledge
        self._datasets = datasets
        self._eval_sets = eval_sets
        self._adapters = adapters
        self._writer = writer  # writes the drafts

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
        self._models.get(options.writer)
        chunks = [
            c
            for c in self._knowledge.chunks(options.knowledge_base, options.folder)
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
        taken = [f"dataset '{n}'" for n in (name, plain) if n in self._datasets.names()]
        if held in self._eval_sets.names():
            taken.append(f"evaluation set '{held}'")
        if taken:
            raise AlreadyExists(
                f"A build named '{name}' would save {' and '.join(taken)}, which already "
                "exist; pick another name or delete them."
            )

    # -- stage 1: drafts ---------------------------------------------------------------------

    @operation
    def draft(
        self, name: str, *, cancel: CancelToken | None = None
    ) -> Generator[Progress, None, BuildInfo]:
        """Draft every chunk not drafted yet, yielding progress after each (its ``detail`` a
        :class:`DraftingDetail`); ends with the build, ``cancelled`` when stopped (the next
        run continues where this one stopped)."""
        info = self.get(name)
        options = info.options
        build = json.loads((info.folder / "build.json").read_text(encoding="utf-8"))
        by_id = {c.id: c for c in self._knowledge.chunks(options.knowledge_base)}
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

        def progress(latest: list[RaftDraft]) -> Progress:
            elapsed = time.perf_counter() - start
            eta = elapsed / fresh * (total - count) if fresh else None
            kept = sum(1 for d in drafts if not d.problem)
            reasons = Counter(d.problem for d in drafts if d.problem)
            detail = DraftingDetail(kept, len(drafts) - kept, dict(reasons), tuple(latest))
            label = f"{count}/{total} passages · {kept} drafts kept · {detail.dropped} dropped"
            return Progress("drafting", count, total, eta, label, detail)

        if not todo:
            self._set_status(info.folder, "review")
            yield progress([])
            return self.get(name)
        self._set_status(info.folder, "drafting")
        try:
            yield progress([])
            for cid in todo:
                if cancel is not None and cancel.cancelled:
                    self._set_status(info.folder, "stopped")
                    return self.get(name)
                chunk = by_id[cid]
                made = draft_chunk(self._writer, chunk, options, options.seed + count, cancel)
                if cancel is not None and cancel.cancelled:  # mid-chunk: redone on resume
                    self._set_status(info.folder, "stopped")
                    return self.get(name)
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
        return self.get(name)

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
            info, drafts, self._knowledge.chunks(info.options.knowledge_base)
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
        chunks = self._knowledge.chunks(options.knowledge_base)
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
        held, train = hold_out(usable, options.holdout, random.Random(options.seed))
        rng = random.Random(options.seed + 1)

        def search(question: str, k: int) -> list[Hit]:
            return self._knowledge.search(options.knowledge_base, question, k)

        made = make_examples(train, chunks, options, rng, search)
        rows, plain, with_oracle = made.rows, made.plain, made.with_oracle
        kb = options.knowledge_base
        saved: list = []
        try:  # all three or none, so a failed save can simply be retried
            self._datasets.save(name, rows, f"RAFT from knowledge base {kb}", kind="raft")
            saved.append(lambda: self._datasets.delete(name))
            self._datasets.save(plain_name, plain, f"RAFT questions of {name}, no documents")
            saved.append(lambda: self._datasets.delete(plain_name))
            if held:
                self._eval_sets.create(
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

    # -- the comparison ------------------------------------------------------------------------

    def ladder(self, name: str, raft_adapter: str) -> Ladder:
        """What comparing Levels 3, 4 and 5 on build ``name`` with ``raft_adapter`` runs on;
        refused unless the build is saved with a held-out set and the adapter is a RAFT one."""
        info = self.get(name)
        if info.status != "saved" or not info.result.get("eval_set"):
            raise TailorError(
                f"RAFT build '{name}' has no held-out evaluation set yet: save it first."
            )
        raft = self._adapters.get(raft_adapter)
        if raft.kind != "raft":
            raise TailorError(f"Adapter '{raft_adapter}' was not trained on a RAFT dataset.")
        return Ladder(info.result["eval_set"], raft.base_model, info.options.knowledge_base)

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
