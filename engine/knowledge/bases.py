"""Knowledge bases: their records (name, folders, settings), status, search and chunks.

Indexing itself — the walk, parsing in a worker process, batches written to LanceDB before
their files are marked done, one run at a time, unavailable roots — is
:mod:`engine.knowledge.indexing`; this module decides which index a run builds and makes it the
active one when it is complete. Changing the chunking or the embedder builds a new index beside
the active one; the old one keeps answering until the new one is complete.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from filelock import Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import bundled, storage
from engine.embeddings import Embedder
from engine.errors import AlreadyExists, InvalidData, NotFound, TailorError
from engine.events import Progress, operation
from engine.knowledge import indexing
from engine.knowledge.chunking import Chunker
from engine.knowledge.indexing import IndexStats
from engine.knowledge.store import ChunkTable, Hit, sql_string
from engine.knowledge.walk import inside, root_problem
from engine.knowledge.watch import FolderWatcher
from engine.models.runtime import CancelToken
from engine.workspace import Workspace


class KnowledgeConfig(BaseModel):
    """How a knowledge base is chunked, embedded and searched. Chunking and embedder changes
    need a new index; the search settings apply at once."""

    model_config = ConfigDict(extra="forbid")

    # The bundled embedder reads at most 256 tokens: a longer chunk would be cut short.
    chunk_tokens: int = Field(256, ge=32, le=2048)
    chunk_overlap: int = Field(32, ge=0, le=512)
    embedder: str = bundled.DEFAULT_EMBEDDER_NAME
    embedder_path: str | None = None
    max_file_mb: float = Field(50.0, gt=0)
    embed_batch: int = Field(128, ge=1, le=4096)
    # all-MiniLM-L6-v2 gives unrelated passages cosine 0.0-0.3; related ones 0.4 and up.
    min_similarity: float = Field(0.35, ge=-1, le=1)
    # Level 3's context (search settings: apply at once; measured in bench/evaluation.py).
    # "sentences": the sentences of the retrieved chunks that best answer the question (cosine
    # to the question + lexical_weight × BM25), each with context_neighbours sentences either
    # side, up to context_tokens; "chunks": the retrieved chunks whole (3.4× the prompt tokens
    # on SQuAD, no better answers at n = 30).
    context: Literal["sentences", "chunks"] = "sentences"
    context_tokens: int = Field(120, ge=16, le=8192)
    context_neighbours: int = Field(0, ge=0, le=5)
    # Each picked sentence grows within its paragraph (before, after, in turn) while
    # context_tokens allows: the answer's surroundings rather than more scattered sentences.
    # Off: on SQuAD (60 questions, bench/context_ablation.py) 200 tokens grown this way
    # answered 0.15 against 0.28 for 120 tokens of best sentences.
    context_paragraph: bool = False
    lexical_weight: float = Field(0.5, ge=0, le=5)
    # "plain": the question, the passages, the question again; "compact": numbered passages,
    # then the question; "sources": cite-your-sources instructions and fenced passages
    # (engine/knowledge/answering.py, where the measurements are).
    prompt_style: Literal["plain", "compact", "sources"] = "plain"
    # Level 3 replies begin with this text and the model continues it ("": the model starts
    # its reply itself). Led this way the bundled 135M model answers from the passages: on
    # 300 held-out SQuAD questions 0.40 answer-contains against 0.35 unled (0.41 with
    # "According to the context,"; bench/context_ablation.py). Local models only: a remote
    # provider's API has no reply start to continue.
    reply_start: str = Field("According to the documents,", max_length=200)
    # Pages (or image frames) of one file read by OCR when they have no text layer; 0: no OCR.
    # A change applies to files indexed from then on.
    ocr_max_pages: int = Field(50, ge=0, le=10_000)

    def index_key(self) -> dict:
        return {
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "embedder": self.embedder,
            "embedder_path": self.embedder_path,
        }


@dataclass
class KnowledgeStatus:
    name: str
    roots: list[str]
    files: int
    chunks: int
    failed: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    config: KnowledgeConfig
    building: bool
    # Roots that cannot be read now, with why; their files stay indexed as they were.
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    # An index run holds the knowledge base's lock: this process's, or another's (the window,
    # a `tailor kb add` in a terminal).
    indexing: bool = False


class KnowledgeBases:
    def __init__(self, workspace: Workspace, embedder: Embedder):
        self.ws = workspace
        self.default_embedder = embedder
        self._embedders: dict[str, Embedder] = {}

    @property
    def folder(self) -> Path:
        return self.ws.home / "knowledge"

    # -- records -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [
            r["name"] for r in self.ws.db.execute("SELECT name FROM knowledge_bases ORDER BY name")
        ]

    def create(self, name: str, **options) -> KnowledgeConfig:
        name = storage.check_name(name, "A knowledge base")
        config = self._validate(options)
        if self.ws.db.execute("SELECT 1 FROM knowledge_bases WHERE name = ?", (name,)).fetchone():
            raise AlreadyExists(f"A knowledge base named '{name}' already exists.")
        self.ws.db.execute(
            "INSERT INTO knowledge_bases(name, config) VALUES (?, ?)",
            (name, config.model_dump_json()),
        )
        return config

    def config(self, name: str) -> KnowledgeConfig:
        return KnowledgeConfig(**json.loads(self._row(name)["config"]))

    def configure(self, name: str, **changes) -> KnowledgeConfig:
        """Change settings. A chunking or embedder change is built by the next index run."""
        data = self.config(name).model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        config = self._validate(data)
        self.ws.db.execute(
            "UPDATE knowledge_bases SET config = ? WHERE name = ?", (config.model_dump_json(), name)
        )
        return config

    def add_roots(self, name: str, paths: list[Path]) -> list[str]:
        kb = self._row(name)
        added = []
        for p in paths:
            p = Path(p).expanduser()
            if not p.exists():
                raise NotFound(f"{p} does not exist.")
            resolved = str(p.resolve())
            self.ws.db.execute(
                "INSERT OR IGNORE INTO kb_roots(kb_id, path) VALUES (?, ?)", (kb["id"], resolved)
            )
            added.append(resolved)
        return added

    def roots(self, name: str) -> list[str]:
        rows = self.ws.db.execute(
            "SELECT path FROM kb_roots WHERE kb_id = ? ORDER BY path", (self._row(name)["id"],)
        )
        return [r["path"] for r in rows]

    def delete(self, name: str) -> None:
        """Delete the knowledge base and its indexes (never the files in its folders). Not
        while an index run (this process's or another's) has it."""
        kb = self._row(name)
        held = indexing.lock(self.folder / str(kb["id"]))
        try:
            held.acquire(timeout=0)
        except Timeout:
            raise TailorError(
                f"Knowledge base '{name}' is being indexed; stop the indexing or wait for it "
                "to finish, then delete it."
            ) from None
        try:
            for row in self.ws.db.execute(
                "SELECT id FROM kb_indexes WHERE kb_id = ?", (kb["id"],)
            ).fetchall():
                self._table(kb["id"], row["id"]).drop()
            self.ws.db.execute("DELETE FROM knowledge_bases WHERE id = ?", (kb["id"],))
        finally:
            held.release()

    def status(self, name: str) -> KnowledgeStatus:
        kb = self._row(name)
        index = kb["active_index"]
        rows = self.ws.db.execute(
            "SELECT path, status, reason, chunks FROM kb_files WHERE index_id = ?", (index or -1,)
        ).fetchall()
        building = self.ws.db.execute(
            "SELECT 1 FROM kb_indexes WHERE kb_id = ? AND status = 'building'", (kb["id"],)
        ).fetchone()
        roots = self.roots(name)
        unavailable = []
        for root in roots:
            why = root_problem(root, any(inside(r["path"], root) for r in rows))
            if why is not None:
                unavailable.append((root, why))
        return KnowledgeStatus(
            name=name,
            roots=roots,
            files=sum(1 for r in rows if r["status"] == "done"),
            chunks=sum(r["chunks"] for r in rows),
            failed=[(r["path"], r["reason"]) for r in rows if r["status"] == "failed"],
            skipped=[(r["path"], r["reason"]) for r in rows if r["status"] == "skipped"],
            config=self.config(name),
            building=bool(building),
            unavailable=unavailable,
            indexing=indexing.running(self.folder / str(kb["id"])),
        )

    # -- search ------------------------------------------------------------------------------

    def search(
        self,
        name: str,
        query: str,
        k: int = 5,
        folder: str | None = None,
        file_types: list[str] | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        kb = self._row(name)
        if kb["active_index"] is None:
            raise TailorError(
                f"Knowledge base '{name}' has no index yet: add a folder and let it index."
            )
        config = KnowledgeConfig(**json.loads(self._index_row(kb["active_index"])["config"]))
        vector = self.embedder_for(config).encode([query])[0]
        clauses = [_under(folder)] if folder else []
        if file_types:
            kinds = ", ".join(sql_string(t.lower().lstrip(".")) for t in file_types)
            clauses.append(f"file_type IN ({kinds})")
        table = self._table(kb["id"], kb["active_index"], vector.shape[0])
        return table.search(vector, query, k, " AND ".join(clauses) or None, mode)

    def embedder_for(self, config: KnowledgeConfig) -> Embedder:
        if config.embedder_path is None and config.embedder == self.default_embedder.name:
            return self.default_embedder
        key = config.embedder_path or config.embedder
        if key not in self._embedders:
            self._embedders[key] = Embedder(Path(key), config.embedder)
        return self._embedders[key]

    # -- indexing ----------------------------------------------------------------------------

    @operation
    def index(
        self, name: str, *, cancel: CancelToken | None = None
    ) -> Generator[Progress, None, IndexStats]:
        """Bring the index up to date with the folders: an operation yielding :class:`Progress`
        after every file (its ``detail`` an :class:`IndexStats`), whose result is the run's
        :class:`IndexStats`. Stopped by ``cancel``, the files done so far stay indexed and the
        next run does the rest.

        One run at a time per knowledge base, across processes (the window and a ``tailor kb
        add`` in a terminal): while another run holds the knowledge base's lock, this one yields
        a "waiting" event and waits for it to finish (or for ``cancel``), then brings the index
        up to date itself, which usually finds nothing left to do.
        """
        folder = self.folder / str(self._row(name)["id"])
        return (yield from indexing.one_at_a_time(folder, self._index(name, cancel), cancel))

    def _index(
        self, name: str, cancel: CancelToken | None
    ) -> Generator[Progress, None, IndexStats]:
        kb = self._row(name)
        config = self.config(name)
        index_id = self._target_index(kb, config)
        embedder = self.embedder_for(config)
        tokenizer_folder = Path(config.embedder_path or bundled.default_embedder_path())
        run = indexing.IndexRun(
            self.ws,
            index_id,
            kb["active_index"],
            self.roots(name),
            Chunker(tokenizer_folder, config.chunk_tokens, config.chunk_overlap),
            embedder,
            max_file_mb=config.max_file_mb,
            embed_batch=config.embed_batch,
            ocr_max_pages=config.ocr_max_pages,
            table_for=lambda dim: self._table(kb["id"], index_id, dim),
            activate=lambda: self._activate(kb, index_id),
        )
        return (yield from run.run(cancel))

    def watch(
        self, name: str, on_change: Callable[[str], None], delay: float = 1.0
    ) -> FolderWatcher:
        """Follow the folders of ``name`` while the app runs: ``on_change(name)`` after changes
        (see :class:`FolderWatcher`). The workspace never counts as a change: a folder that
        holds it would otherwise be indexed again after each write of the index itself."""
        return FolderWatcher(name, self.roots(name), on_change, delay=delay, workspace=self.ws.home)

    def chunks(self, name: str, folder: str | None = None) -> list[Hit]:
        """Every chunk of the active index (only those from files under ``folder``, if given),
        in id order."""
        kb = self._row(name)
        if kb["active_index"] is None:
            raise TailorError(f"Knowledge base '{name}' has no index yet: add a folder first.")
        table = self._table(kb["id"], kb["active_index"]).table
        columns = ["id", "source", "text", "page", "heading", "start", "end"]
        query = table.search().select(columns)
        if folder:
            query = query.where(_under(folder))
        rows = query.limit(max(1, table.count_rows())).to_list()
        rows.sort(key=lambda r: r["id"])
        return [Hit(**r, score=0.0, similarity=1.0) for r in rows]

    def sample(self, name: str, n: int, seed: int = 0, min_chars: int = 200) -> list[Hit]:
        """Up to ``n`` chunks of the active index, drawn at random (reproducibly for a seed),
        preferring chunks with at least ``min_chars`` characters of text."""
        rows = self.chunks(name)
        long = [r for r in rows if len(r.text) >= min_chars]
        rng = random.Random(seed)
        picked = rng.sample(long, min(n, len(long)))
        if len(picked) < n:
            rest = [r for r in rows if len(r.text) < min_chars]
            picked += rng.sample(rest, min(n - len(picked), len(rest)))
        return picked

    def chunk_ids(self, name: str) -> list[str]:
        kb = self._row(name)
        if kb["active_index"] is None:
            return []
        return self._table(kb["id"], kb["active_index"]).ids()

    # -- internals ---------------------------------------------------------------------------

    def _target_index(self, kb, config: KnowledgeConfig) -> int:
        key = json.dumps(config.index_key(), sort_keys=True)
        active = kb["active_index"]
        if active is not None and _same_key(self._index_row(active)["config"], key):
            return active
        row = self.ws.db.execute(
            "SELECT id, config FROM kb_indexes WHERE kb_id = ? AND status = 'building'",
            (kb["id"],),
        ).fetchall()
        for r in row:
            if _same_key(r["config"], key):
                return r["id"]
        return self.ws.db.execute(
            "INSERT INTO kb_indexes(kb_id, config, status) VALUES (?, ?, 'building')",
            (kb["id"], config.model_dump_json()),
        ).lastrowid

    def _activate(self, kb, index_id: int) -> None:
        if kb["active_index"] == index_id:
            self.ws.db.execute("UPDATE kb_indexes SET status = 'ready' WHERE id = ?", (index_id,))
            return
        old = kb["active_index"]
        with self.ws.transaction() as db:
            db.execute("UPDATE kb_indexes SET status = 'ready' WHERE id = ?", (index_id,))
            db.execute(
                "UPDATE knowledge_bases SET active_index = ? WHERE id = ?", (index_id, kb["id"])
            )
            if old is not None:
                db.execute("UPDATE kb_indexes SET status = 'retired' WHERE id = ?", (old,))
                db.execute("DELETE FROM kb_files WHERE index_id = ?", (old,))
        if old is not None:
            self._table(kb["id"], old).drop()

    def _table(self, kb_id: int, index_id: int, dim: int = 384) -> ChunkTable:
        return ChunkTable(self.folder / str(kb_id), f"index_{index_id}", dim)

    def _row(self, name: str):
        row = self.ws.db.execute("SELECT * FROM knowledge_bases WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No knowledge base named '{name}'. Knowledge bases: {known}.")
        return row

    def _index_row(self, index_id: int):
        return self.ws.db.execute("SELECT * FROM kb_indexes WHERE id = ?", (index_id,)).fetchone()

    @staticmethod
    def _validate(data: dict) -> KnowledgeConfig:
        try:
            config = KnowledgeConfig(**data)
        except ValidationError as exc:
            raise InvalidData.from_validation(exc, "The knowledge base settings") from None
        if config.chunk_overlap >= config.chunk_tokens:
            raise InvalidData(["chunk_overlap: must be smaller than chunk_tokens"], "The settings")
        return config


def _under(folder: str) -> str:
    """A LanceDB filter: chunks from the files under ``folder`` (or from that file). Compared as
    text with each chunk's own folder, never as a LIKE pattern: ``%`` and ``_`` are ordinary
    characters in file names, and ``/d/a`` must not take in ``/d/ab``."""
    path = str(Path(folder).expanduser().resolve())
    below = path if path.endswith(os.sep) else path + os.sep
    return (
        f"(folder = {sql_string(path)} OR starts_with(folder, {sql_string(below)})"
        f" OR source = {sql_string(path)})"
    )


def _same_key(config_json: str, key: str) -> bool:
    return json.dumps(KnowledgeConfig(**json.loads(config_json)).index_key(), sort_keys=True) == key
