"""Where records keep their files: names a person types are data, never paths.

Every record that owns files (a training job's folder, a dataset's JSONL, an imported model's
GGUF, a RAFT build's folder) gets a path *claimed* for it once, when it is made, and stores that
path; nothing is ever found again by turning a name into a path. The rules, in one place:

* :func:`check_name` — a name is accepted as it is (``..``, ``a/b``, ``'``, ``%``, any script)
  or refused with a message: empty, a line break or other control character, too long.
* :func:`claim_folder` / :func:`claim_file` — a new entry under a parent folder, named by a
  readable ASCII label of the name (``..`` and ``日本`` become ``adapter``) plus ``-2``, ``-3`` …
  until one is free. The entry is created atomically (``mkdir`` / ``O_EXCL``), so two names, two
  records or two processes never share it — on case-insensitive disks too.
* :func:`inside` — the resolved path, if it lies strictly inside its parent.
* :func:`remove` — delete a record's file or folder only if it is inside its parent and no
  other record's path is it, is in it, or holds it (rows written by older versions could share
  a folder, or point at ``training/..``).
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from engine.errors import TailorError

MAX_NAME = 200
_LABEL = 40
# Names Windows reserves for devices, whatever the extension.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10))} | {
    f"LPT{i}" for i in range(10)
}


class UnsafePath(TailorError):
    """A path would leave the folder it belongs in."""


def check_name(name: str, what: str) -> str:
    """``name`` without surrounding spaces, or a :class:`TailorError` saying why it cannot be
    one. ``what`` starts the message ("An adapter", "A dataset")."""
    name = (name or "").strip()
    if not name:
        raise TailorError(f"{what} needs a name.")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise TailorError(
            f"{what} name must be one line of visible text (no line breaks, tabs or other "
            f"control characters): {name!r}."
        )
    if len(name) > MAX_NAME:
        raise TailorError(f"{what} name is {len(name)} characters long; use at most {MAX_NAME}.")
    return name


def label(name: str, fallback: str) -> str:
    """A readable file-name part for ``name``: ASCII letters, digits, ``-`` and ``_`` only (no
    dots, so never ``.``/``..`` or a hidden file), at most 40 characters; ``fallback`` when
    nothing is left. Not unique: :func:`claim_folder` and :func:`claim_file` make it so."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")[:_LABEL].strip("-_")
    text = text or fallback
    return text + "-" if text.upper() in _RESERVED else text


def claim_folder(parent: Path, name: str, fallback: str) -> Path:
    """A new, empty folder under ``parent`` for the record called ``name``; never one that
    exists already."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for candidate in _candidates(parent, label(name, fallback), ""):
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")  # _candidates never ends


def claim_file(parent: Path, name: str, suffix: str, fallback: str) -> Path:
    """A new, empty file ``<label><suffix>`` under ``parent`` for the record called ``name``;
    never one that exists already. Write the content beside it and ``os.replace`` it in."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for candidate in _candidates(parent, label(name, fallback), suffix):
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


def _candidates(parent: Path, stem: str, suffix: str):
    n = 1
    while True:
        candidate = parent / f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
        # Companions such as "<file>.partial" must not belong to another record either.
        if not candidate.with_name(candidate.name + ".partial").exists():
            inside(parent, candidate)
            yield candidate
        n += 1


def inside(parent: Path, path: Path) -> Path:
    """``path`` resolved (symbolic links followed), if it lies strictly inside ``parent``;
    otherwise :class:`UnsafePath`."""
    root = Path(parent).resolve()
    resolved = Path(path).resolve()
    if root not in resolved.parents:
        raise UnsafePath(f"{path} is not inside {parent}; Tailor does not touch it.")
    return resolved


def remove(parent: Path, path: Path, others: Iterable[Path | str] = ()) -> bool:
    """Delete the file or folder ``path`` that a record being deleted owned. Only if it is
    inside ``parent`` and none of ``others`` (the paths other records own) is it, lies in it or
    holds it; a symbolic link is removed, not what it points at. Returns whether it was deleted
    (a missing one counts as deleted)."""
    where = Path(path)
    if where.name in ("", ".", ".."):
        return False
    root = Path(parent).resolve()
    target = where.parent.resolve() / where.name  # the entry itself, not a link's target
    if root not in target.parents:
        return False
    for other in others:
        other = Path(other).resolve()
        # A row pointing outside the parent (an old one naming "training/..") owns nothing here.
        if root in other.parents and (
            other == target or target in other.parents or other in target.parents
        ):
            return False
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    return True
