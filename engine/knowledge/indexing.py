"""Indexing: bringing a knowledge base's index up to date with its folders, incrementally,
resumably and visibly.

A run walks the folders, compares each file with what the index holds (size and mtime, then
content hash), parses and chunks what changed, embeds in batches, and writes each batch to
LanceDB before marking its files done in SQLite. A run interrupted anywhere (closed window,
``kill -9``, power loss) therefore resumes by redoing only unfinished files, and because a file's
chunks are always replaced as a whole and chunk ids are deterministic, no chunk is duplicated or
lost.

Files are parsed in a worker process with memory and time limits
(:mod:`engine.knowledge.parse_worker`), so no file can crash or stall the app. A file is marked
'parsing' in SQLite while the worker has it: a run that dies there gives the file one more try
next time, and after two such runs reports it as failed instead of stopping on it again.

One run at a time per knowledge base, across processes (an OS file lock: the window and a
``tailor kb add`` wait for each other, and a killed run frees it). A root that cannot be read
(a drive not connected, its empty mount point) is reported as unavailable and its files keep
their chunks; only a root the user removes takes its files out of the index.

Which files are read and which roots can be read now is :mod:`engine.knowledge.walk`; which
index a run builds, and the knowledge bases' records, :mod:`engine.knowledge.bases`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from engine.embeddings import Embedder
from engine.events import Progress
from engine.knowledge import parsing
from engine.knowledge.chunking import Chunker
from engine.knowledge.parse_worker import ParseCancelled, ParseFailed, ParserProcess
from engine.knowledge.store import ChunkTable
from engine.knowledge.walk import inside, os_reason, root_problem, walk_root
from engine.models.runtime import CancelToken
from engine.workspace import Workspace


@dataclass(frozen=True)
class IndexStats:
    """What an index run has done: the ``detail`` of each of its :class:`Progress` events, and
    its result at the end (also when it was cancelled: the files done so far stay indexed)."""

    files_done: int = 0
    files_total: int = 0
    chunks: int = 0
    chunks_per_s: float = 0.0
    # Files not indexed, with why.
    failed: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0
    unchanged: int = 0
    # Roots that could not be read (a drive not connected, a folder made unreadable), with why:
    # their files keep their chunks until the root is back or removed from the knowledge base.
    unavailable: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Tally:
    """An index run's counts as they change; each event carries a copy."""

    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    chunks_per_s: float = 0.0
    eta_s: float | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0
    unchanged: int = 0
    unavailable: list[tuple[str, str]] = field(default_factory=list)

    def stats(self) -> IndexStats:
        return IndexStats(
            files_done=self.files_done,
            files_total=self.files_total,
            chunks=self.chunks,
            chunks_per_s=self.chunks_per_s,
            failed=list(self.failed),
            removed=self.removed,
            unchanged=self.unchanged,
            unavailable=list(self.unavailable),
        )

    def event(self, phase: str, label: str) -> Progress:
        """Where the run stands: ``phase`` "scanning", "indexing" (``label`` is the file just
        done) or "finishing"."""
        return Progress(
            phase, self.files_done, self.files_total, self.eta_s, label, detail=self.stats()
        )


def chunk_id(source: str, ordinal: int, text: str) -> str:
    digest = hashlib.sha256(f"{source}\0{ordinal}\0{text}".encode()).hexdigest()
    return digest[:24]


# The labels of the phases that are not about one file.
WAITING = "Another Tailor process is indexing this knowledge base; waiting for it to finish"
SCANNING = "Looking for new, changed and deleted files"
FINISHING = "Building the search index"

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
    # run (opening a pipe for reading waits for a writer). Windows has neither the flag nor
    # such pipes, and needs O_BINARY.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    with open(os.open(path, flags), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise parsing.Skip("not a regular file (a pipe or a device)")
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def lock(folder: Path) -> FileLock:
    """The lock one index run of a knowledge base holds, in the knowledge base's folder. An
    OS-level lock: a killed run releases it."""
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / "index.lock", thread_local=False)


def running(folder: Path) -> bool:
    """Whether an index run holds the lock in ``folder``: this process's, or another's (the
    window, a ``tailor kb add`` in a terminal)."""
    if not (folder / "index.lock").exists():
        return False
    held = lock(folder)
    try:
        held.acquire(timeout=0)
    except Timeout:
        return True
    held.release()
    return False


def one_at_a_time(
    folder: Path, run: Generator[Progress, None, IndexStats], cancel: CancelToken | None
) -> Generator[Progress, None, IndexStats]:
    """``run``, once it holds the lock in ``folder``. While another run holds it, yields a
    "waiting" event and waits for it to finish (or for ``cancel``: then nothing was done)."""
    held = lock(folder)
    try:
        held.acquire(timeout=0)
    except Timeout:
        yield Progress("waiting", label=WAITING, detail=IndexStats())
        while True:
            if cancel is not None and cancel.cancelled:
                return IndexStats()
            try:
                held.acquire(timeout=0.5)
                break
            except Timeout:
                continue
    try:
        return (yield from run)
    finally:
        held.release()


class IndexRun:
    """One run bringing one index up to date with the roots of its knowledge base.

    Its collaborators are given: the workspace (its database holds each file's state), the index
    to build (``index_id``) and the one answering now (``active_index``, None for a first run),
    the chunker and embedder made from the knowledge base's settings with its size and batch
    limits, ``table_for`` (opens the index's chunk table, given the vector dimension to create
    it with) and ``activate`` (makes the index the one that answers, once it is complete).
    """

    def __init__(
        self,
        ws: Workspace,
        index_id: int,
        active_index: int | None,
        roots: list[str],
        chunker: Chunker,
        embedder: Embedder,
        *,
        max_file_mb: float,
        embed_batch: int,
        ocr_max_pages: int = parsing.OCR_MAX_PAGES,
        table_for: Callable[[int], ChunkTable],
        activate: Callable[[], None],
    ):
        self.ws = ws
        self.index_id = index_id
        self.active_index = active_index
        self.roots = roots
        self.chunker = chunker
        self.embedder = embedder
        self.max_file_mb = max_file_mb
        self.embed_batch = embed_batch
        self.ocr_max_pages = ocr_max_pages
        self.table_for = table_for
        self.activate = activate

    def run(self, cancel: CancelToken | None = None) -> Generator[Progress, None, IndexStats]:
        """Walk, index what changed, and activate the index; yields progress after every file
        and returns what it did. Stopped by ``cancel``, it returns what it did so far: the files
        done are stored, the next run does the rest."""
        index_id, embedder, chunker, roots = self.index_id, self.embedder, self.chunker, self.roots
        progress = _Tally()
        yield progress.event("scanning", SCANNING)
        known = {
            r["path"]: r
            for r in self.ws.db.execute("SELECT * FROM kb_files WHERE index_id = ?", (index_id,))
        }
        # What either index holds: a rebuild must not mistake an unplugged drive for an empty one.
        indexed = [
            r["path"]
            for r in self.ws.db.execute(
                "SELECT DISTINCT path FROM kb_files WHERE index_id IN (?, ?)",
                (index_id, self.active_index or index_id),
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
        table = None

        def open_table(dim: int) -> ChunkTable:
            nonlocal table
            if table is None:
                table = self.table_for(dim)
            return table

        if gone:
            # The dimension is only needed to create a table; an existing one has its own.
            open_table(embedder.dimension).delete_sources(gone)
            self.ws.db.executemany(
                "DELETE FROM kb_files WHERE index_id = ? AND path = ?",
                [(index_id, p) for p in gone],
            )
            progress.removed = len(gone)

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

        parser = ParserProcess(ocr_max_pages=self.ocr_max_pages)
        try:
            for path, st in todo:
                if cancel is not None and cancel.cancelled:
                    flush()
                    return progress.stats()
                source = str(path)
                old = known.get(source)
                try:
                    # The walk's size decides: a file over the limit is not read, not even to
                    # hash it.
                    if st.st_size > self.max_file_mb * 1e6:
                        raise parsing.Skip(
                            f"too large ({st.st_size / 1e6:,.0f} MB; this knowledge base indexes "
                            f"files up to {self.max_file_mb:g} MB)"
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
                        steps = parser.steps(path, st.st_size, cancel)
                        sections = yield from _ocr_progress(steps, progress, path)
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
                    return progress.stats()
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
                    reason = os_reason(exc)
                    pending_files.append(
                        (source, st.st_size, st.st_mtime_ns, "", "failed", reason, 0)
                    )
                    progress.failed.append((source, reason))
                if len(pending_rows) >= self.embed_batch:
                    flush()
                progress.files_done += 1
                elapsed = time.perf_counter() - started
                progress.chunks_per_s = progress.chunks / elapsed if elapsed > 0 else 0.0
                rate = progress.files_done / elapsed if elapsed > 0 else 0
                left = progress.files_total - progress.files_done
                progress.eta_s = left / rate if rate > 0 else None
                yield progress.event("indexing", source)
        finally:
            parser.close()
        flush()

        progress.eta_s = None
        yield progress.event("finishing", FINISHING)
        open_table(embedder.dimension).finish()
        # A new index (new settings) lacks the files of an unavailable root: the old one keeps
        # answering until a run with every root readable completes the new one.
        if not progress.unavailable or self.active_index in (None, index_id):
            self.activate()
        return progress.stats()

    def _walk(
        self, roots: list[str], indexed: list[str], progress: _Tally
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
            problem = root_problem(root, had_files)
            if problem is None:
                files, unlisted = walk_root(root, workspace, progress.failed)
                # Unmounted while being walked: what was seen is partial, so none of it counts.
                problem = root_problem(root, had_files or bool(files))
            if problem is not None:
                progress.unavailable.append((root, problem))
                progress.failed[:] = [f for f in progress.failed if not inside(f[0], root)]
                keep.append(root)
                continue
            found.update(files)
            keep += unlisted
        return found, keep


def _ocr_progress(
    steps: Generator[tuple[int, int], None, list], progress: _Tally, path: Path
) -> Generator[Progress, None, list]:
    """A parse's sections; an "indexing" event before each page OCR reads (the file is not
    done yet: its label says which page)."""
    while True:
        try:
            page, pages = next(steps)
        except StopIteration as end:
            return end.value
        yield progress.event("indexing", f"OCR page {page}/{pages} of {path.name}")


def _lost_root(path: str, roots: list[str], progress: _Tally) -> bool:
    """Whether ``path`` lies under a root that cannot be read now (noted in
    ``progress.unavailable``): a file that vanished with its drive was not deleted."""
    for root in roots:
        if inside(path, root):
            if any(r == root for r, _why in progress.unavailable):
                return True
            if (why := root_problem(root, True)) is not None:
                progress.unavailable.append((root, why))
                return True
    return False
