"""Knowledge bases: their records, and indexing that is incremental, resumable and visible.

Indexing walks the folders, compares each file with what the index holds (size and mtime,
then content hash), parses and chunks what changed, embeds in batches, and writes each batch
to LanceDB before marking its files done in SQLite. A run interrupted anywhere (closed window,
``kill -9``, power loss) therefore resumes by redoing only unfinished files, and because a file's
chunks are always replaced as a whole and chunk ids are deterministic, no chunk is duplicated or
lost. Changing the chunking or the embedder builds a new index beside the active one; the old
one keeps answering until the new one is complete.

Files are parsed in a worker process with memory and time limits
(:mod:`engine.knowledge.parse_worker`), so no file can crash or stall the app. A file is marked
'parsing' in SQLite while the worker has it: a run that dies there gives the file one more try
next time, and after two such runs reports it as failed instead of stopping on it again.

One run at a time per knowledge base, across processes (an OS file lock: the window and a
``tailor kb add`` wait for each other, and a killed run frees it). A root that cannot be read
(a drive not connected, its empty mount point) is reported as unavailable and its files keep
their chunks; only a root the user removes takes its files out of the index.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import bundled, storage
from engine.embeddings import Embedder
from engine.errors import AlreadyExists, InvalidData, NotFound, TailorError
from engine.knowledge import parsing
from engine.knowledge.chunking import Chunker
from engine.knowledge.parse_worker import ParseCancelled, ParseFailed, ParserProcess
from engine.knowledge.store import ChunkTable, Hit, sql_string
from engine.models.runtime import CancelToken
from engine.workspace import Workspace

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}


def skipped_dir(name: str) -> bool:
    """Whether indexing leaves out a folder of this name: hidden ones and tools' folders
    (version control, packages, caches). The walk and the folder watcher share this rule."""
    return name in SKIP_DIRS or name.startswith(".")


def skipped_file(name: str) -> bool:
    """Whether indexing leaves out a file of this name: hidden ones."""
    return name.startswith(".")


def left_out(path: str, root: str, workspace: str | None, is_dir: bool = False) -> bool:
    """Whether indexing leaves ``path``, found under ``root``, out: anything in the workspace,
    in a skipped folder, or a hidden file. The walk applies the same rule one name at a time."""
    if workspace is not None and inside(path, workspace):
        return True
    if not inside(path, root):
        return True
    *folders, name = Path(path).relative_to(root).parts or ("",)
    if any(skipped_dir(f) for f in folders):
        return True
    return (skipped_dir if is_dir else skipped_file)(name) if name else False


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (by its text: ``/d/ab`` is not under
    ``/d/a``)."""
    folder = folder.rstrip(os.sep) or os.sep
    return path == folder or path.startswith(folder if folder == os.sep else folder + os.sep)


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

    # "waiting" (another process is indexing this knowledge base), "scanning", "indexing",
    # "finishing", "done", "cancelled"
    phase: str
    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    chunks_per_s: float = 0.0
    eta_s: float | None = None
    current: str = ""
    failed: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0
    unchanged: int = 0
    # Roots that could not be read (a drive not connected, a folder made unreadable), with why:
    # their files keep their chunks until the root is back or removed from the knowledge base.
    unavailable: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self) -> IndexProgress:
        """A copy to hand to another thread while indexing goes on."""
        return replace(self, failed=list(self.failed), unavailable=list(self.unavailable))


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


def chunk_id(source: str, ordinal: int, text: str) -> str:
    digest = hashlib.sha256(f"{source}\0{ordinal}\0{text}".encode()).hexdigest()
    return digest[:24]


# A run that stops while a file is being parsed gives it one more try in the next run; a file
# that stops this many runs in a row is marked failed and left alone until it changes.
PARSE_TRIES = 2
# The size recorded for a file whose parse has returned but whose chunks are not stored yet:
# no file has it, so the next run reads the file again.
PARSED_NOT_STORED = -1


def _parse_tries(row, st: os.stat_result) -> int:
    """How many runs in a row stopped while parsing this file as it is now (0 if none)."""
    if (
        row is None
        or row["status"] != "parsing"
        or (row["size"], row["mtime_ns"]) != (st.st_size, st.st_mtime_ns)
    ):
        return 0
    return int(row["reason"] or 0)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    # Opened without blocking: a path replaced by a named pipe after the walk must not hang the
    # run (opening a pipe for reading waits for a writer).
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise parsing.Skip("not a regular file (a pipe or a device)")
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
        roots = self.roots(name)
        unavailable = []
        for root in roots:
            why = _root_problem(root, any(inside(r["path"], root) for r in rows))
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
            indexing=self._indexing(kb["id"]),
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

    def index(self, name: str, cancel: CancelToken | None = None) -> Iterator[IndexProgress]:
        """Bring the index up to date with the folders; yields progress after every file.

        One run at a time per knowledge base, across processes (the window and a ``tailor kb
        add`` in a terminal): while another run holds the knowledge base's lock, this one yields
        a "waiting" event and waits for it to finish (or for ``cancel``), then brings the index
        up to date itself, which usually finds nothing left to do.
        """
        lock = self._index_lock(self._row(name)["id"])
        try:
            lock.acquire(timeout=0)
        except Timeout:
            yield IndexProgress("waiting")
            while True:
                if cancel is not None and cancel.cancelled:
                    yield IndexProgress("cancelled")
                    return
                try:
                    lock.acquire(timeout=0.5)
                    break
                except Timeout:
                    continue
        try:
            yield from self._index(name, cancel)
        finally:
            lock.release()

    def _index(self, name: str, cancel: CancelToken | None) -> Iterator[IndexProgress]:
        kb = self._row(name)
        config = self.config(name)
        index_id = self._target_index(kb, config)
        embedder = self.embedder_for(config)
        tokenizer_folder = Path(config.embedder_path or bundled.default_embedder_path())
        chunker = Chunker(tokenizer_folder, config.chunk_tokens, config.chunk_overlap)

        progress = IndexProgress("scanning")
        yield progress.snapshot()
        known = {
            r["path"]: r
            for r in self.ws.db.execute("SELECT * FROM kb_files WHERE index_id = ?", (index_id,))
        }
        roots = self.roots(name)
        # What either index holds: a rebuild must not mistake an unplugged drive for an empty one.
        indexed = [
            r["path"]
            for r in self.ws.db.execute(
                "SELECT DISTINCT path FROM kb_files WHERE index_id IN (?, ?)",
                (index_id, kb["active_index"] or index_id),
            )
        ]
        found, keep = self._walk(roots, indexed, progress)
        todo: list[tuple[Path, os.stat_result]] = []
        for path, st in found.items():
            row = known.get(path)
            if (
                row
                and row["status"] != "parsing"  # a run stopped while parsing it: see below
                and row["size"] == st.st_size
                and row["mtime_ns"] == st.st_mtime_ns
            ):
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
        # A root removed by the user is no longer walked, so its files are gone; one that cannot
        # be read now keeps its files (an unplugged drive is not an emptied one).
        gone = [
            p
            for p in known
            if p not in found and p not in broken and not any(inside(p, k) for k in keep)
        ]
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

        parser = ParserProcess()
        try:
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
                    # The walk's size decides: a file over the limit is not read, not even to
                    # hash it.
                    if st.st_size > config.max_file_mb * 1e6:
                        raise parsing.Skip(
                            f"too large ({st.st_size / 1e6:,.0f} MB; this knowledge base indexes "
                            f"files up to {config.max_file_mb:g} MB)"
                        )
                    tries = _parse_tries(old, st) + 1
                    if tries > PARSE_TRIES:
                        raise ParseFailed(
                            f"stopped the parser last time (the app or its parser ended while "
                            f"reading it, {PARSE_TRIES} runs in a row); it is read again when it "
                            "changes"
                        )
                    digest = _sha256(path)
                    if (
                        old is not None
                        and old["sha256"] == digest
                        and old["status"] in ("done", "skipped")
                    ):
                        # Touched, not changed: keep its chunks, remember the new mtime.
                        self.ws.db.execute(
                            "UPDATE kb_files SET size = ?, mtime_ns = ? "
                            "WHERE index_id = ? AND path = ?",
                            (st.st_size, st.st_mtime_ns, index_id, source),
                        )
                        progress.unchanged += 1
                        progress.files_done += 1
                        continue
                    # Committed before the parser sees the file, cleared when it returns: a run
                    # that dies in between leaves the name of the file that may have killed it.
                    self.ws.db.execute(
                        "INSERT OR REPLACE INTO kb_files(index_id, path, size, mtime_ns, sha256,"
                        " status, reason, chunks) VALUES (?, ?, ?, ?, ?, 'parsing', ?, 0)",
                        (index_id, source, st.st_size, st.st_mtime_ns, digest, str(tries)),
                    )
                    try:
                        sections = parser.parse(path, st.st_size, cancel)
                    finally:
                        # Still to be redone by the next run until its batch is stored.
                        self.ws.db.execute(
                            "UPDATE kb_files SET size = ? WHERE index_id = ? AND path = ?",
                            (PARSED_NOT_STORED, index_id, source),
                        )
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
                except ParseCancelled:
                    flush()
                    progress.phase = "cancelled"
                    yield progress.snapshot()
                    return
                except parsing.Skip as exc:
                    pending_files.append(
                        (source, st.st_size, st.st_mtime_ns, "", "skipped", str(exc), 0)
                    )
                    progress.failed.append((source, str(exc)))
                except ParseFailed as exc:
                    pending_files.append(
                        (source, st.st_size, st.st_mtime_ns, "", "failed", str(exc), 0)
                    )
                    progress.failed.append((source, str(exc)))
                except Exception as exc:  # one unreadable file never stops the rest of the folder
                    if isinstance(exc, OSError) and _lost_root(source, roots, progress):
                        # Its drive went away mid-run: the file stays indexed as it was.
                        progress.files_done += 1
                        continue
                    reason = _os_reason(exc)
                    pending_files.append(
                        (source, st.st_size, st.st_mtime_ns, "", "failed", reason, 0)
                    )
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
        finally:
            parser.close()
        flush()

        progress.phase = "finishing"
        progress.current = ""
        yield progress.snapshot()
        open_table(embedder.dimension).finish()
        # A new index (new settings) lacks the files of an unavailable root: the old one keeps
        # answering until a run with every root readable completes the new one.
        if not progress.unavailable or kb["active_index"] in (None, index_id):
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

    def _walk(
        self, roots: list[str], indexed: list[str], progress: IndexProgress
    ) -> tuple[dict[str, os.stat_result], list[str]]:
        """Every regular file under the roots that are available, and the folders whose indexed
        files must be kept as they are: unavailable roots and folders that could not be listed
        (neither is evidence that a file was deleted). Unavailable roots go to
        ``progress.unavailable``, unreadable folders and files to ``progress.failed``.

        ``indexed`` are the paths the index holds. Directory symlinks are not followed (no
        loops), the workspace is left out (indexing its own database would never end), and the
        walk keeps its own stack, so a tree 1,000 levels deep is as good as a flat one.
        """
        found: dict[str, os.stat_result] = {}
        keep: list[str] = []
        workspace = str(self.ws.home.resolve())
        for root in roots:
            had_files = any(inside(p, root) for p in indexed)
            problem = _root_problem(root, had_files)
            if problem is None:
                files, unlisted = _walk_root(root, workspace, progress)
                # Unmounted while being walked: what was seen is partial, so none of it counts.
                problem = _root_problem(root, had_files or bool(files))
            if problem is not None:
                progress.unavailable.append((root, problem))
                progress.failed[:] = [f for f in progress.failed if not inside(f[0], root)]
                keep.append(root)
                continue
            found.update(files)
            keep += unlisted
        return found, keep

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

    def _index_lock(self, kb_id: int) -> FileLock:
        """The lock one index run of a knowledge base holds. An OS-level lock: a killed run
        releases it."""
        folder = self.folder / str(kb_id)
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(folder / "index.lock", thread_local=False)

    def _indexing(self, kb_id: int) -> bool:
        if not (self.folder / str(kb_id) / "index.lock").exists():
            return False
        lock = self._index_lock(kb_id)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

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


def _walk_root(
    root: str, workspace: str, progress: IndexProgress
) -> tuple[dict[str, os.stat_result], list[str]]:
    """The files under one root, and the folders under it that could not be listed."""
    found: dict[str, os.stat_result] = {}
    unlisted: list[str] = []
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            st = os.stat(path)
            if not stat.S_ISDIR(st.st_mode):  # a root that is a file
                found[path] = st
                continue
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            progress.failed.append((path, _os_reason(exc)))
            unlisted.append(path)
            continue
        folders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if not skipped_dir(entry.name) and not inside(entry.path, workspace):
                    folders.append(entry.path)
                continue
            if skipped_file(entry.name) or (entry.is_symlink() and os.path.isdir(entry.path)):
                continue
            try:
                st = os.stat(entry.path)  # follows file symlinks; a broken one fails here
            except OSError as exc:
                progress.failed.append((entry.path, _os_reason(exc)))
                continue
            if stat.S_ISREG(st.st_mode):
                found[entry.path] = st
        stack.extend(reversed(folders))  # taken in name order, as os.walk gave them
    return found, unlisted


def _lost_root(path: str, roots: list[str], progress: IndexProgress) -> bool:
    """Whether ``path`` lies under a root that cannot be read now (noted in
    ``progress.unavailable``): a file that vanished with its drive was not deleted."""
    for root in roots:
        if inside(path, root):
            if any(r == root for r, _why in progress.unavailable):
                return True
            if (why := _root_problem(root, True)) is not None:
                progress.unavailable.append((root, why))
                return True
    return False


def _root_problem(root: str, indexed: bool) -> str | None:
    """Why a root cannot be read now, or None. An empty folder counts when the index holds files
    from it (``indexed``): that is what the mount point of a drive that is not connected looks
    like."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return "not found (a drive that is not connected, or a folder moved away?)"
    except OSError as exc:
        return _os_reason(exc)
    if not stat.S_ISDIR(st.st_mode):
        return None
    try:
        with os.scandir(root) as listing:
            empty = next(listing, None) is None
    except OSError as exc:
        return _os_reason(exc)
    if empty and indexed:
        return "empty, though files from it are indexed (a drive that is not connected?)"
    return None


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
