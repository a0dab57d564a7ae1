"""Knowledge bases: their records, and indexing that is incremental, resumable and visible.

Indexing walks the folders, compares each file with what the index holds (size and mtime,
then content hash), parses and chunks what changed, embeds in batches, and writes each batch
to LanceDB before marking its files done in SQLite. A run interrupted anywhere (closed window,
``kill -9``, power loss) therefore resumes by redoing only unfinished files, and because a file's
chunks are always replaced as a whole and chunk ids are deterministic, no chunk is duplicated or
lost. Changing the chunking or the embedder builds a new index beside the active one; the old
one keeps answering until the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import bundled
from engine.embeddings import Embedder
from engine.errors import AlreadyExists, InvalidData, NotFound, TailorError
from engine.knowledge import parsing
from engine.knowledge.chunking import Chunker
from engine.knowledge.store import ChunkTable, Hit
from engine.models.runtime import CancelToken
from engine.workspace import Workspace

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}


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

    def index_key(self) -> dict:
        return {
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "embedder": self.embedder,
            "embedder_path": self.embedder_path,
        }


@dataclass
class IndexProgress:
    """Emitted after every file (and at the start and end of a run)."""

    phase: str  # "scanning", "indexing", "finishing", "done", "cancelled"
    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    chunks_per_s: float = 0.0
    eta_s: float | None = None
    current: str = ""
    failed: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0
    unchanged: int = 0

    def snapshot(self) -> IndexProgress:
        """A copy to hand to another thread while indexing goes on."""
        return replace(self, failed=list(self.failed))


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


def chunk_id(source: str, ordinal: int, text: str) -> str:
    digest = hashlib.sha256(f"{source}\0{ordinal}\0{text}".encode()).hexdigest()
    return digest[:24]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
        name = name.strip()
        if not name:
            raise TailorError("A knowledge base needs a name.")
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

    def remove_root(self, name: str, path: str) -> None:
        self.ws.db.execute(
            "DELETE FROM kb_roots WHERE kb_id = ? AND path = ?", (self._row(name)["id"], path)
        )

    def roots(self, name: str) -> list[str]:
        rows = self.ws.db.execute(
            "SELECT path FROM kb_roots WHERE kb_id = ? ORDER BY path", (self._row(name)["id"],)
        )
        return [r["path"] for r in rows]

    def delete(self, name: str) -> None:
        kb = self._row(name)
        for row in self.ws.db.execute("SELECT id FROM kb_indexes WHERE kb_id = ?", (kb["id"],)):
            self._table(kb["id"], row["id"]).drop()
        self.ws.db.execute("DELETE FROM knowledge_bases WHERE id = ?", (kb["id"],))

    def status(self, name: str) -> KnowledgeStatus:
        kb = self._row(name)
        index = kb["active_index"]
        rows = self.ws.db.execute(
            "SELECT path, status, reason, chunks FROM kb_files WHERE index_id = ?", (index or -1,)
        ).fetchall()
        building = self.ws.db.execute(
            "SELECT 1 FROM kb_indexes WHERE kb_id = ? AND status = 'building'", (kb["id"],)
        ).fetchone()
        return KnowledgeStatus(
            name=name,
            roots=self.roots(name),
            files=sum(1 for r in rows if r["status"] == "done"),
            chunks=sum(r["chunks"] for r in rows),
            failed=[(r["path"], r["reason"]) for r in rows if r["status"] == "failed"],
            skipped=[(r["path"], r["reason"]) for r in rows if r["status"] == "skipped"],
            config=self.config(name),
            building=bool(building),
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
            kinds = ", ".join(
                "'" + t.lower().lstrip(".").replace("'", "''") + "'" for t in file_types
            )
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

    def index(self, name: str, cancel: CancelToken | None = None) -> Iterator[IndexProgress]:
        """Bring the index up to date with the folders; yields progress after every file."""
        kb = self._row(name)
        config = self.config(name)
        index_id = self._target_index(kb, config)
        embedder = self.embedder_for(config)
        tokenizer_folder = Path(config.embedder_path or bundled.default_embedder_path())
        chunker = Chunker(tokenizer_folder, config.chunk_tokens, config.chunk_overlap)

        progress = IndexProgress("scanning")
        yield progress.snapshot()
        found = self._walk(self.roots(name), progress)
        known = {
            r["path"]: r
            for r in self.ws.db.execute("SELECT * FROM kb_files WHERE index_id = ?", (index_id,))
        }
        todo: list[tuple[Path, os.stat_result]] = []
        for path, st in found.items():
            row = known.get(path)
            if row and row["size"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns:
                progress.unchanged += 1
                continue
            todo.append((Path(path), st))
        broken = dict(progress.failed)  # found by the walk but unreadable (dangling links, …)
        if broken:
            self.ws.db.executemany(
                "INSERT OR REPLACE INTO kb_files(index_id, path, size, mtime_ns, sha256, status,"
                " reason, chunks) VALUES (?, ?, 0, 0, '', 'failed', ?, 0)",
                [(index_id, p, r) for p, r in broken.items()],
            )
        gone = [p for p in known if p not in found and p not in broken]
        dim = None
        table = None

        def open_table(d: int) -> ChunkTable:
            nonlocal table, dim
            if table is None:
                dim = d
                table = self._table(kb["id"], index_id, d)
            return table

        if gone:
            # The dimension is only needed to create a table; an existing one has its own.
            open_table(embedder.dimension).delete_sources(gone)
            self.ws.db.executemany(
                "DELETE FROM kb_files WHERE index_id = ? AND path = ?",
                [(index_id, p) for p in gone],
            )
            progress.removed = len(gone)

        progress.phase = "indexing"
        progress.files_total = len(todo)
        started = time.perf_counter()
        pending_rows: list[dict] = []
        pending_files: list[tuple] = []

        def flush():
            if not pending_files:
                return
            texts = [r["text"] for r in pending_rows]
            if texts:
                vectors = embedder.encode(texts, batch_size=64)
                for row, vec in zip(pending_rows, vectors, strict=True):
                    row["vector"] = vec
                t = open_table(vectors.shape[1])
            else:
                t = open_table(embedder.dimension)
            t.replace_sources([f[0] for f in pending_files], pending_rows)
            with_self = [(index_id, *f) for f in pending_files]
            self.ws.db.executemany(
                "INSERT OR REPLACE INTO kb_files(index_id, path, size, mtime_ns, sha256, status,"
                " reason, chunks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                with_self,
            )
            pending_rows.clear()
            pending_files.clear()

        for path, st in todo:
            if cancel is not None and cancel.cancelled:
                flush()
                progress.phase = "cancelled"
                yield progress.snapshot()
                return
            source = str(path)
            progress.current = source
            old = known.get(source)
            try:
                digest = _sha256(path)
                if old is not None and old["sha256"] == digest and old["status"] != "failed":
                    # Touched, not changed: keep its chunks, remember the new mtime.
                    self.ws.db.execute(
                        "UPDATE kb_files SET size = ?, mtime_ns = ? "
                        "WHERE index_id = ? AND path = ?",
                        (st.st_size, st.st_mtime_ns, index_id, source),
                    )
                    progress.unchanged += 1
                    progress.files_done += 1
                    continue
                if st.st_size > config.max_file_mb * 1e6:
                    raise parsing.Skip(
                        f"too large ({st.st_size / 1e6:,.0f} MB; this knowledge base indexes "
                        f"files up to {config.max_file_mb:g} MB)"
                    )
                sections = parsing.parse(path)
                chunks = chunker.chunk(sections)
                if not chunks:
                    raise parsing.Skip("no text to index")
                kind = parsing.file_type(path)
                for n, c in enumerate(chunks):
                    pending_rows.append(
                        {
                            "id": chunk_id(source, n, c.text),
                            "source": source,
                            "folder": str(path.parent),
                            "file_type": kind,
                            "page": c.page,
                            "heading": c.heading,
                            "start": c.start,
                            "end": c.end,
                            "text": c.text,
                        }
                    )
                pending_files.append(
                    (source, st.st_size, st.st_mtime_ns, digest, "done", "", len(chunks))
                )
                progress.chunks += len(chunks)
            except parsing.Skip as exc:
                pending_files.append(
                    (source, st.st_size, st.st_mtime_ns, "", "skipped", str(exc), 0)
                )
                progress.failed.append((source, str(exc)))
            except Exception as exc:  # one unreadable file never stops the rest of the folder
                reason = _os_reason(exc)
                pending_files.append((source, st.st_size, st.st_mtime_ns, "", "failed", reason, 0))
                progress.failed.append((source, reason))
            if len(pending_rows) >= config.embed_batch:
                flush()
            progress.files_done += 1
            elapsed = time.perf_counter() - started
            progress.chunks_per_s = progress.chunks / elapsed if elapsed > 0 else 0.0
            rate = progress.files_done / elapsed if elapsed > 0 else 0
            left = progress.files_total - progress.files_done
            progress.eta_s = left / rate if rate > 0 else None
            yield progress.snapshot()
        flush()

        progress.phase = "finishing"
        progress.current = ""
        yield progress.snapshot()
        open_table(embedder.dimension).finish()
        self._activate(kb, index_id)
        progress.phase = "done"
        progress.eta_s = 0
        yield progress.snapshot()

    def update(self, name: str, cancel: CancelToken | None = None) -> IndexProgress:
        """Run :meth:`index` to the end (headless use); return the final progress."""
        return deque(self.index(name, cancel), maxlen=1)[0]

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

    def _walk(self, roots: list[str], progress: IndexProgress) -> dict[str, os.stat_result]:
        """Every regular file under the roots. Directory symlinks are not followed (no loops);
        unreadable folders are reported, not fatal."""
        found: dict[str, os.stat_result] = {}
        for root in roots:
            base = Path(root)
            if base.is_file():
                found[str(base)] = base.stat()
                continue

            def on_error(exc: OSError, root=root):
                progress.failed.append((exc.filename or root, _os_reason(exc)))

            for folder, dirs, files in os.walk(base, onerror=on_error, followlinks=False):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    path = os.path.join(folder, f)
                    try:
                        st = os.stat(path)  # follows file symlinks; a broken one fails here
                    except OSError as exc:
                        progress.failed.append((path, _os_reason(exc)))
                        continue
                    if not os.path.isfile(path):
                        continue
                    found[path] = st
        return found

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
        db = self.ws.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE kb_indexes SET status = 'ready' WHERE id = ?", (index_id,))
        db.execute("UPDATE knowledge_bases SET active_index = ? WHERE id = ?", (index_id, kb["id"]))
        if old is not None:
            db.execute("UPDATE kb_indexes SET status = 'retired' WHERE id = ?", (old,))
            db.execute("DELETE FROM kb_files WHERE index_id = ?", (old,))
        db.execute("COMMIT")
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
    """A LanceDB filter: chunks from files under ``folder``."""
    prefix = str(Path(folder).expanduser().resolve()).replace("'", "''")
    return f"source LIKE '{prefix}%'"


def _same_key(config_json: str, key: str) -> bool:
    return json.dumps(KnowledgeConfig(**json.loads(config_json)).index_key(), sort_keys=True) == key


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (unreadable)"
    if isinstance(exc, FileNotFoundError):
        return "deleted while being indexed"
    if isinstance(exc, OSError) and exc.errno == 40:
        return "symbolic link loop"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"could not be read ({type(exc).__name__}: {exc})"
