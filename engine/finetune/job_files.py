"""The files of a training job's folder that the window, the command line and the training
process share (see :mod:`engine.finetune.jobs` for the whole folder):

* ``job.json`` — what to train, written once; ``state.json`` — status, step, pid, message,
  rewritten by the training process; both written atomically (:func:`write_json`);
* ``progress.jsonl`` — one line per logged step: loss, validation loss, tokens/s, ETA. A last
  line cut short by a full disk or a kill is skipped by readers (:func:`read_progress`) and
  dropped before the next append (:func:`repair_progress`);
* ``checkpoints/`` — resumable trainer checkpoints (:func:`latest_checkpoint`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    """Atomically: a reader never sees half a file, a crash never leaves one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    """The object in ``path``; an empty one if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def read_progress(folder: Path) -> list[dict]:
    """Every complete step logged in ``<folder>/progress.jsonl``, in order.

    A line cut short (disk full, a kill mid-write) is skipped, so one bad line never costs the
    whole loss history. An older worker appended the next step right after such a fragment;
    the step at the end of that joined line is still read (rows are flat objects, so it starts
    at the line's last ``{``).
    """
    try:
        raw = (Path(folder) / "progress.jsonl").read_bytes().decode("utf-8", errors="replace")
    except OSError:  # no step logged yet
        return []
    rows = []
    for line in raw.splitlines():
        for text in (line, line[line.rfind("{") :]):
            try:
                row = json.loads(text)
            except ValueError:
                continue
            if isinstance(row, dict) and "step" in row:
                rows.append(row)
            break
    return rows


def repair_progress(folder: Path) -> None:
    """Drop a last line cut short from ``<folder>/progress.jsonl`` so the next step the worker
    appends starts on a line of its own."""
    path = Path(folder) / "progress.jsonl"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint (one the trainer finished writing)."""
    found = []
    for d in (Path(folder) / "checkpoints").glob("checkpoint-*"):
        if (d / "trainer_state.json").exists() and d.name.split("-")[-1].isdigit():
            found.append((int(d.name.split("-")[-1]), d))
    return max(found)[1] if found else None
