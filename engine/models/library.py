"""The workspace's model library: the bundled model plus every GGUF the user imported."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine import bundled
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


def name_from_filename(path: Path) -> str:
    """A library name from a file name: ``Qwen2.5-0.5B-Instruct-Q4_K_M.gguf`` → lower-case,
    dashes, without the extension."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).stem).strip("-.")
    return stem.lower() or "model"


class ModelLibrary:
    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def ensure_bundled(self) -> Model:
        """Register the bundled default model (first start) and return it.

        Re-pointed if the package moved (a new virtual environment), so the record never dangles.
        """
        path = bundled.default_model_path()
        row = self.ws.db.execute(
            "SELECT path FROM models WHERE name = ?", (bundled.DEFAULT_MODEL_NAME,)
        ).fetchone()
        if row is None or row["path"] != str(path):
            info = gguf_file.inspect(path)
            self.ws.db.execute(
                "INSERT INTO models(name, path, size_bytes, metadata, bundled) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT(name) DO UPDATE SET "
                "path = excluded.path, size_bytes = excluded.size_bytes, "
                "metadata = excluded.metadata",
                (bundled.DEFAULT_MODEL_NAME, str(path), info.file_size, json.dumps(info.to_dict())),
            )
        return self.get(bundled.DEFAULT_MODEL_NAME)

    def list(self) -> list[Model]:
        rows = self.ws.db.execute("SELECT * FROM models ORDER BY bundled DESC, name").fetchall()
        return [self._model(r) for r in rows]

    def get(self, name: str) -> Model:
        row = self.ws.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(m.name for m in self.list()) or "none"
            raise NotFound(f"No model named '{name}'. Models in the library: {known}.")
        return self._model(row)

    def import_file(self, source: Path, name: str | None = None) -> Model:
        """Validate a GGUF and copy it into the workspace (hard-linked when on the same disk).

        The file is checked completely before anything is written, and copied under a temporary
        name first, so a failed or interrupted import leaves nothing behind.
        """
        source = Path(source).expanduser()
        info = gguf_file.inspect(source)
        name = name or name_from_filename(source)
        if self.ws.db.execute("SELECT 1 FROM models WHERE name = ?", (name,)).fetchone():
            raise AlreadyExists(f"A model named '{name}' is already in the library.")
        target = self.ws.models_dir / f"{name}.gguf"
        partial = target.with_suffix(".gguf.partial")
        try:
            try:
                os.link(source, partial)
            except OSError:
                shutil.copyfile(source, partial)
            os.replace(partial, target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise InvalidModelFile(
                f"Could not copy {source.name} into the library: {exc}"
            ) from None
        self.ws.db.execute(
            "INSERT INTO models(name, path, size_bytes, metadata) VALUES (?, ?, ?, ?)",
            (name, str(target), info.file_size, json.dumps(info.to_dict())),
        )
        return self.get(name)

    def remove(self, name: str) -> None:
        model = self.get(name)
        if model.bundled:
            raise InvalidModelFile("The bundled model cannot be removed.")
        self.ws.db.execute("DELETE FROM models WHERE name = ?", (name,))
        if model.path.parent == self.ws.models_dir:
            model.path.unlink(missing_ok=True)

    @staticmethod
    def _model(row) -> Model:
        return Model(
            name=row["name"],
            path=Path(row["path"]),
            info=ModelInfo.from_dict(json.loads(row["metadata"])),
            bundled=bool(row["bundled"]),
        )
