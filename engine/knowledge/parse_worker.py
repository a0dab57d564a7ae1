"""Parsing untrusted files in a worker process with memory and time limits.

A knowledge base reads whatever lies in the folders it is given: PDFs from anywhere, Word files
that are zip archives, text of any size. The parsers behind them (pdfium in C++, lxml, the
zip reader) can be made to allocate gigabytes, spin for hours or crash by a hostile or merely
broken file. So no file is parsed in the app's own process. One worker process per index run
(started on the first file that needs parsing, not per file: IPC costs tens of microseconds, a
process start tens of milliseconds) parses one file at a time, under

- an address-space limit (``RLIMIT_AS``): a decompression bomb makes the parser fail, or pdfium
  abort, inside the worker instead of swapping the machine to a halt;
- a processor-time limit (``RLIMIT_CPU``, re-armed for every file) and a wall-clock limit kept
  by the parent, both scaled by the file's size: a parser stuck in a loop is killed;
- no core dumps: a crash must not write a document's contents to disk;
- no privileges: it drops every Linux capability and may not gain any (``no_new_privs``), so
  a parser subverted by a file can do no more than an ordinary user, and even when Tailor runs
  as root the worker reads only what the files' permissions allow.

OCR (pages without a text layer, images) is the one step that needs more: ONNX Runtime and its
models take most of a gigabyte, and a page takes seconds. So the worker's memory limit is
:data:`MEMORY_LIMIT` for parsing and is raised by :data:`OCR_MEMORY` only while a file is being
OCR'd (the hard limit is the sum; the engine is dropped before the next file), and before each
page it OCRs the worker tells the parent, which then allows :data:`OCR_SECONDS_PER_PAGE` more
(at most as many pages as the knowledge base's OCR page limit): a thousand-page scan is limited
by that setting, not cut off by a limit sized for text. The same message is the per-page
progress the index run reports.

The parent kills the worker when the user cancels, so a long parse stops at once, and starts a
fresh one for the next file after a crash or a kill. Replies are JSON, never pickle: a worker
subverted by a malicious file must not be able to run code in the app by what it sends back.

Run as ``python -m engine.knowledge.parse_worker MEMORY_BYTES OCR_BYTES`` it is the worker
itself.

Other systems: on macOS the limits hold except the address space (its kernel does not enforce
``RLIMIT_AS``) and there are no capabilities to drop. Windows has no ``resource`` limits (a Job
Object would be the way) and cannot ``select`` on a pipe: there the worker runs with the
parent's wall-clock limit only, and a thread reads its replies (:data:`SELECT_ON_PIPES`).
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

from engine.knowledge import parsing
from engine.knowledge.formats import ocr
from engine.runtime import module_command

if TYPE_CHECKING:
    from engine.models.runtime import CancelToken

# Address space for the worker. Parsing a 50 MB document takes a few hundred MB; a PDF page that
# decompresses to a gigabyte is refused well before the machine runs short.
MEMORY_LIMIT = 2 * 1024**3
# What OCR adds while a file is being OCR'd: RapidOCR's models in ONNX Runtime, its buffers and
# a rendered page. Measured on A4 pages at 256 dpi: 1.1 GB resident and 1.66 GB of address
# space for the whole process, leaving too little of 2 GB for the document itself.
OCR_MEMORY = 1 * 1024**3
# Time to read one file: generous for a slow disk and a thousand-page PDF, finite for a parser
# that will never finish.
BASE_SECONDS = 60.0
SECONDS_PER_MB = 6.0
# Time allowed for each page OCR reads, on top of the above: a page takes 0.5-5 s on a laptop's
# processor. Processor time is allowed for each of ONNX Runtime's threads.
OCR_SECONDS_PER_PAGE = 60.0
# How often a waiting parent looks at the cancel token.
POLL_SECONDS = 0.1
# Whether the parent waits for replies with select(); Windows cannot on a pipe, and a thread
# reads them instead.
SELECT_ON_PIPES = sys.platform != "win32"


class ParseFailed(Exception):
    """The worker could not read a file: it crashed, ran out of memory or time, or the parser
    raised something unexpected. The message says which, for the user."""


class ParseCancelled(Exception):
    """The user cancelled while a file was being parsed; the worker was stopped."""


def time_limit(size: int) -> float:
    """Seconds allowed to parse a file of ``size`` bytes."""
    return BASE_SECONDS + SECONDS_PER_MB * size / 1e6


class ParserProcess:
    """The parent's handle on a worker; :meth:`parse` is :func:`parsing.parse` in the worker.

    Not thread-safe: one index run uses one. Close it (or use it as a context manager) to end
    the worker.
    """

    def __init__(
        self,
        memory_limit: int = MEMORY_LIMIT,
        ocr_max_pages: int = parsing.OCR_MAX_PAGES,
        ocr_memory: int = OCR_MEMORY,
    ):
        self.memory_limit = memory_limit
        self.ocr_max_pages = ocr_max_pages
        self.ocr_memory = ocr_memory
        self._proc: subprocess.Popen | None = None
        self._replies: queue.Queue | None = None  # the reading thread's, without select()
        self._ocr_now = False  # the file being read has pages in OCR (and OCR's memory)

    def __enter__(self) -> ParserProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def parse(self, path: Path, size: int, cancel: CancelToken | None = None) -> list:
        """Sections of ``path`` (``size`` bytes, from the caller's stat).

        Raises :class:`parsing.Skip` and ``OSError`` as parsing in this process would,
        :class:`ParseFailed` when the worker fails on the file, and :class:`ParseCancelled`.
        """
        steps = self.steps(path, size, cancel)
        while True:
            try:
                next(steps)
            except StopIteration as end:
                return end.value

    def steps(
        self, path: Path, size: int, cancel: CancelToken | None = None
    ) -> Generator[tuple[int, int], None, list]:
        """:meth:`parse`, yielding (page, pages) before each page OCR reads."""
        limit = time_limit(size)
        request = {"path": str(path), "cpu_s": int(limit) + 1, "ocr_pages": self.ocr_max_pages}
        request = json.dumps(request).encode() + b"\n"
        proc = self._start()
        try:
            proc.stdin.write(request)
            proc.stdin.flush()
        except BrokenPipeError:
            # It ended while idle (killed from outside): one fresh start for this file.
            self._stop()
            proc = self._start()
            proc.stdin.write(request)
            proc.stdin.flush()
        deadline = time.monotonic() + limit
        pages = 0
        self._ocr_now = False
        buffer = bytearray()
        while True:
            reply = json.loads(self._receive(proc, buffer, deadline, limit, cancel))
            if "page" not in reply:
                break
            # Before each page OCR reads: more time for it, as many times as pages are allowed.
            done, total = reply["page"]
            self._ocr_now = True
            if pages < self.ocr_max_pages:
                pages += 1
                limit += OCR_SECONDS_PER_PAGE
                deadline += OCR_SECONDS_PER_PAGE
            yield int(done), int(total)
        if "ok" in reply:
            return [
                parsing.Section(text, start, page=page, heading=heading)
                for text, start, page, heading in reply["ok"]
            ]
        if "skip" in reply:
            raise parsing.Skip(reply["skip"])
        if "oserror" in reply:
            number, message, filename = reply["oserror"]
            raise OSError(number, message, filename)
        raise ParseFailed(reply["error"])

    def close(self) -> None:
        """End the worker (it exits on its own when its input closes)."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        try:
            proc.stdin.close()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def _start(self) -> subprocess.Popen:
        if self._proc is None:
            # The worker imports this package from where this process found it.
            root = str(Path(__file__).resolve().parents[2])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
            try:
                # Few malloc arenas: glibc reserves 64 MB of address space for each thread's
                # own, and ONNX Runtime's threads would spend the memory limit on reservations.
                env["MALLOC_ARENA_MAX"] = "2"
                self._proc = subprocess.Popen(
                    module_command(__name__, str(self.memory_limit), str(self.ocr_memory)),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,  # pdfium's warnings are not the user's concern
                    env=env,
                )
            except OSError as exc:
                raise ParseFailed(f"the parser process could not start ({exc})") from None
            if not SELECT_ON_PIPES:
                self._replies = queue.Queue()
                threading.Thread(
                    target=_read_all, args=(self._proc.stdout, self._replies), daemon=True
                ).start()
        return self._proc

    def _stop(self) -> int:
        """Kill the worker; return how it ended."""
        proc, self._proc = self._proc, None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        return code

    def _receive(
        self,
        proc,
        buffer: bytearray,
        deadline: float,
        limit: float,
        cancel: CancelToken | None,
    ) -> bytes:
        """The worker's next line (JSON holds no raw newline): a page message or the reply.
        ``buffer`` keeps what was read past it for the next call."""
        fd = proc.stdout.fileno()
        while b"\n" not in buffer:
            if cancel is not None and cancel.cancelled:
                self._stop()
                raise ParseCancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                self._stop()
                raise ParseFailed(f"took longer than {limit:.0f} s to read; stopped")
            if self._replies is not None:
                try:
                    data = self._replies.get(timeout=min(left, POLL_SECONDS))
                except queue.Empty:
                    continue
            else:
                ready, _, _ = select.select([fd], [], [], min(left, POLL_SECONDS))
                if not ready:
                    continue
                data = os.read(fd, 1 << 20)
            if not data:
                raise ParseFailed(self._death_reason(self._stop(), limit))
            buffer += data
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest
        return line

    def _death_reason(self, code: int, limit: float) -> str:
        memory = self.memory_limit + (self.ocr_memory if self._ocr_now else 0)
        memory = f"{memory / 1024**3:g} GB"
        xcpu = getattr(signal, "SIGXCPU", None)  # not on Windows
        if xcpu is not None and code == -xcpu:
            return f"used more than {limit:.0f} s of processor time; stopped"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            return (
                f"crashed the parser ({name}): the file is damaged, or reading it needs more "
                f"than {memory} of memory"
            )
        return f"stopped the parser (exit code {code})"


def _read_all(stream, replies: queue.Queue) -> None:
    """Hand what the worker writes to ``replies`` as it comes, then b"" at its end."""
    try:
        while data := stream.read1(1 << 20):
            replies.put(data)
    except (OSError, ValueError):  # closed under it by a stop
        pass
    replies.put(b"")


# -- the worker -------------------------------------------------------------------------------


def _reply(
    path: str, memory_limit: int, ocr_pages: int = 0, on_page: parsing.OnPage | None = None
) -> dict:
    try:
        sections = parsing.parse(Path(path), ocr_pages, on_page)
        return {"ok": [[s.text, s.start, s.page, s.heading] for s in sections]}
    except parsing.Skip as exc:
        return {"skip": str(exc)}
    except OSError as exc:
        return {"oserror": [exc.errno, exc.strerror or str(exc), exc.filename]}
    except MemoryError:
        return {"error": f"needs more than {memory_limit / 1024**3:g} GB of memory to read"}
    except RecursionError:
        return {"error": "nested too deeply to read"}
    except Exception as exc:  # an unexpected parser failure is this file's, not the run's
        return {"error": f"could not be read ({type(exc).__name__}: {exc})"}


def _drop_privileges() -> None:
    """Give up every capability (root's included) and the means to gain one back (Linux's;
    other systems have neither prctl nor capabilities)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs = 38
    libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0)
    # capset(2) with version 3 of its header, for this process; effective, permitted and
    # inheritable sets all empty. A kernel that refuses leaves the worker with what it had:
    # the limits above still hold.
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    libc.capset(header, (ctypes.c_uint32 * 6)())


def main(argv: list[str]) -> None:
    import gc

    try:
        import resource
    except ImportError:  # Windows: the parent's wall-clock limit only (see the module's text)
        resource = None

    memory_limit = int(argv[0])
    ocr_memory = int(argv[1]) if len(argv) > 1 else 0

    def limit_memory(soft: int, hard: int) -> None:
        # macOS neither enforces RLIMIT_AS nor lets it be lowered (ValueError): Linux's only.
        if resource is not None and sys.platform.startswith("linux"):
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))

    _drop_privileges()
    # The hard limit holds OCR too; parsers run under the soft one (see the module's text).
    limit_memory(memory_limit, memory_limit + ocr_memory)
    if resource is not None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Ctrl+C in a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints must not end up inside a reply

    def allow_cpu(seconds: float, start: float | None = None) -> None:
        """Allow ``seconds`` of processor time past ``start`` (seconds used so far, by default
        the soft limit now)."""
        if resource is None:
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if start is None:
            start = soft
        soft = int(start + seconds)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def on_page(done: int, total: int) -> None:
        """Before each page OCR reads: room for OCR, time for the page, and the parent told."""
        if done == 1:
            limit_memory(memory_limit + ocr_memory, memory_limit + ocr_memory)
        allow_cpu(OCR_SECONDS_PER_PAGE * ocr.MAX_THREADS)
        replies.write(json.dumps({"page": [done, total]}).encode() + b"\n")
        replies.flush()

    for line in sys.stdin.buffer:
        request = json.loads(line)
        if resource is not None:
            allow_cpu(request["cpu_s"], sum(resource.getrusage(resource.RUSAGE_SELF)[:2]))
        reply = _reply(request["path"], memory_limit, request.get("ocr_pages", 0), on_page)
        # The OCR engine is gone with the parse that made it: the next file gets the parsers'
        # limit back.
        gc.collect()
        limit_memory(memory_limit, memory_limit + ocr_memory)
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
