"""The workspace's model library: the bundled model plus every GGUF the user imported.

Each model's file is recorded with the SHA-256 of its content, its size and its modification
time. :meth:`ModelLibrary.get` — the way every loader reaches a model — compares the file with
that record first (a ``stat``; the hash only when size or time moved), and refuses a file
changed in place since import: loading a file rewritten under llama.cpp's memory map can crash
the process, and caches and adapters made for the old content would silently not fit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from engine import bundled, storage
from engine.errors import AlreadyExists, InvalidModelFile, NotFound
from engine.models import gguf_file
from engine.models.gguf_file import ModelInfo
from engine.workspace import Workspace


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    info: ModelInfo
    bundled: bool
    sha256: str | None = None  # of the file's content (None only in an unchecked old row)


class ModelChanged(InvalidModelFile):
    """A model's file is not the one that was imported: it changed in place since."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in chunks."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def name_from_filename(path: Path) -> str:
    """A library name from a file name: ``Qwen2.5-0.5B-Instruct-Q4_K_M.gguf`` → lower-case,
    dashes, without the extension."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).stem).strip("-.")
    return stem.lower() or "model"


class ModelLibrary:
    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self._hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) → sha256

    def ensure_bundled(self) -> Model:
        """Register the bundled default model (first start) and return it.

        Re-pointed if the package moved (a new virtual environment) and re-read if the package
        replaced the file (an update), so the record never dangles; its content hash is kept
        with the file's size and time, so a normal start does not read the file again.
        """
        path = bundled.default_model_path()
        st = path.stat()
        row = self._row(bundled.DEFAULT_MODEL_NAME, missing_ok=True)
        if row is None or row["path"] != str(path) or not _unchanged(row, st):
            info = gguf_file.inspect(path)
            self.ws.db.execute(
                "INSERT INTO models(name, path, size_bytes, metadata, bundled, sha256, mtime_ns) "
                "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "path = excluded.path, size_bytes = excluded.size_bytes, "
                "metadata = excluded.metadata, sha256 = excluded.sha256, "
                "mtime_ns = excluded.mtime_ns",
                (
                    bundled.DEFAULT_MODEL_NAME,
                    str(path),
                    info.file_size,
                    json.dumps(info.to_dict()),
                    self._sha256(path, st),
                    st.st_mtime_ns,
                ),
            )
            row = self._row(bundled.DEFAULT_MODEL_NAME)
        return self._model(row)

    def list(self) -> list[Model]:
        rows = self.ws.db.execute("SELECT * FROM models ORDER BY bundled DESC, name").fetchall()
        return [self._model(r) for r in rows]

    def get(self, name: str) -> Model:
        """The named model, once its file is checked to be the one recorded (see the module's
        docstring); :class:`ModelChanged` if it changed in place since it was imported."""
        row = self._row(name)
        model = self._model(row)
        try:
            st = model.path.stat()
        except OSError:
            return model  # a missing file is reported by whatever opens it, with its path
        if _unchanged(row, st):
            return model
        if model.bundled:
            return self.ensure_bundled()  # the package's own file, replaced by an update
        sha = self._sha256(model.path, st)
        if row["sha256"] is None and st.st_size == row["size_bytes"]:
            # Imported before content hashes: nothing to compare with, so its header is
            # checked again and this content becomes the one recorded.
            info = gguf_file.inspect(model.path)
            self._record(name, sha, st, info)
            return replace(model, info=info, sha256=sha)
        if sha == row["sha256"] and st.st_size == row["size_bytes"]:
            self._record(name, sha, st)  # touched (copied back, restored), same content
            return model
        raise ModelChanged(
            f"The file of model '{name}' ({model.path}) changed after it was imported, so it "
            "is not loaded: a file rewritten in place can crash the app, and adapters trained "
            "on the old one would not fit. To use the new file, remove the model and import "
            "the file again."
        )

    def import_file(self, source: Path, name: str | None = None) -> Model:
        """Validate a GGUF and copy it into the workspace (hard-linked when on the same disk).

        The file is checked completely before anything is written, and copied under a temporary
        name first, so a failed or interrupted import leaves nothing behind. ``name`` is only a
        name: the file gets a path of its own (see :mod:`engine.storage`).
        """
        source = Path(source).expanduser()
        info = gguf_file.inspect(source)
        name = name_from_filename(source) if name is None else storage.check_name(name, "A model")
        if self._row(name, missing_ok=True) is not None:
            raise AlreadyExists(f"A model named '{name}' is already in the library.")
        before = source.stat()
        sha = file_sha256(source)
        # The content hash is part of the file's name, so whatever is keyed by the path (the
        # loaded model, its tokenizer) never serves another file imported under the same name.
        target = storage.claim_file(self.ws.models_dir, name, f"-{sha[:12]}.gguf", "model")
        partial = target.with_name(target.name + ".partial")
        try:
            try:
                os.link(source, partial)
            except OSError:
                shutil.copyfile(source, partial)
            os.replace(partial, target)
            after = source.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise InvalidModelFile(
                    f"{source.name} changed while it was being imported; import it again once "
                    "it is complete."
                )
            info = gguf_file.inspect(target)  # what the library holds is what is recorded
            st = target.stat()
            self._hashes[(str(target), st.st_size, st.st_mtime_ns)] = sha
            self.ws.db.execute(
                "INSERT INTO models(name, path, size_bytes, metadata, sha256, mtime_ns) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    name,
                    str(target),
                    info.file_size,
                    json.dumps(info.to_dict()),
                    sha,
                    st.st_mtime_ns,
                ),
            )
        except BaseException as exc:
            partial.unlink(missing_ok=True)
            target.unlink(missing_ok=True)  # claimed above: nobody else's
            if isinstance(exc, OSError):
                raise InvalidModelFile(
                    f"Could not copy {source.name} into the library: {exc}"
                ) from None
            raise
        return self.get(name)

    def remove(self, name: str) -> None:
        """Take a model out of the library; its file goes too if the library holds it (never
        the bundled one, a file outside ``models/``, or one another entry uses)."""
        model = self._model(self._row(name))
        if model.bundled:
            raise InvalidModelFile("The bundled model cannot be removed.")
        self.ws.db.execute("DELETE FROM models WHERE name = ?", (name,))
        others = [r["path"] for r in self.ws.db.execute("SELECT path FROM models")]
        storage.remove(self.ws.models_dir, model.path, others)

    def _row(self, name: str, missing_ok: bool = False):
        row = self.ws.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None and not missing_ok:
            known = ", ".join(m.name for m in self.list()) or "none"
            raise NotFound(f"No model named '{name}'. Models in the library: {known}.")
        return row

    def _record(self, name: str, sha256: str, st: os.stat_result, info: ModelInfo | None = None):
        self.ws.db.execute(
            "UPDATE models SET sha256 = ?, mtime_ns = ?, size_bytes = ?, "
            "metadata = COALESCE(?, metadata) WHERE name = ?",
            (sha256, st.st_mtime_ns, st.st_size, info and json.dumps(info.to_dict()), name),
        )

    def _sha256(self, path: Path, st: os.stat_result) -> str:
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(path)
        return self._hashes[key]

    @staticmethod
    def _model(row) -> Model:
        return Model(
            name=row["name"],
            path=Path(row["path"]),
            info=ModelInfo.from_dict(json.loads(row["metadata"])),
            bundled=bool(row["bundled"]),
            sha256=row["sha256"],
        )


def _unchanged(row, st: os.stat_result) -> bool:
    """Whether a file's size and time are still those recorded with its content hash."""
    return bool(
        row["sha256"] and row["size_bytes"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns
    )
