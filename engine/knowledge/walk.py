"""Which files a knowledge base indexes, and which of its folders can be read now.

The rules here are shared by the index run (:mod:`engine.knowledge.indexing`), which walks the
folders, and the folder watcher (:mod:`engine.knowledge.watch`), which sees one path at a time:
hidden files and folders, tools' folders and the workspace are left out. A root that cannot be
read now (a drive not connected, its empty mount point) is told apart from an emptied one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

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


def walk_root(
    root: str, workspace: str, failed: list[tuple[str, str]]
) -> tuple[dict[str, os.stat_result], list[str]]:
    """The regular files under one root, and the folders under it that could not be listed.
    Folders and files that could not be read go to ``failed`` with why."""
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
            failed.append((path, os_reason(exc)))
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
                failed.append((entry.path, os_reason(exc)))
                continue
            if stat.S_ISREG(st.st_mode):
                found[entry.path] = st
        stack.extend(reversed(folders))  # taken in name order, as os.walk gave them
    return found, unlisted


def root_problem(root: str, indexed: bool) -> str | None:
    """Why a root cannot be read now, or None. An empty folder counts when the index holds files
    from it (``indexed``): that is what the mount point of a drive that is not connected looks
    like."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return "not found (a drive that is not connected, or a folder moved away?)"
    except OSError as exc:
        return os_reason(exc)
    if not stat.S_ISDIR(st.st_mode):
        return None
    try:
        with os.scandir(root) as listing:
            empty = next(listing, None) is None
    except OSError as exc:
        return os_reason(exc)
    if empty and indexed:
        return "empty, though files from it are indexed (a drive that is not connected?)"
    return None


def os_reason(exc: BaseException) -> str:
    """Why a file or folder could not be read, in words for the user."""
    if isinstance(exc, PermissionError):
        return "permission denied (unreadable)"
    if isinstance(exc, FileNotFoundError):
        return "deleted while being indexed"
    if isinstance(exc, OSError) and exc.errno == 40:
        return "symbolic link loop"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"could not be read ({type(exc).__name__}: {exc})"
