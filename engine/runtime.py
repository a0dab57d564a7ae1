"""How Tailor starts its own worker processes, from a checkout or from the installed app.

From a checkout a worker is ``python -m MODULE``. The installed app is a frozen executable
(PyInstaller) with no ``python`` beside it, so it starts itself with ``--tailor-module MODULE``
and :func:`run_worker` (the first thing the launcher calls) runs that module as ``__main__``.
A worker that trains first puts the training component on its path (:mod:`engine.components`).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

FROZEN = bool(getattr(sys, "frozen", False))
WORKER_FLAG = "--tailor-module"
# Workers that need torch and Unsloth: the installed app finds them in the training component.
TRAINING_MODULES = ("engine.finetune.worker", "engine.onnx_embedder")


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``module`` as a program in a new process."""
    if FROZEN:
        return [sys.executable, WORKER_FLAG, module, *args]
    return [sys.executable, "-m", module, *args]


def run_worker(argv: list[str]) -> bool:
    """Run ``argv``'s worker module if it names one (``--tailor-module MODULE ARGS``); False
    when it does not, and the caller goes on as the app or the command line."""
    if len(argv) < 3 or argv[1] != WORKER_FLAG:
        return False
    module = argv[2]
    sys.argv = [module, *argv[3:]]
    if module in TRAINING_MODULES:
        activate("training")
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return True


def components_root() -> Path:
    """Where optional components are installed (``TAILOR_COMPONENTS`` overrides)."""
    if os.environ.get("TAILOR_COMPONENTS"):
        return Path(os.environ["TAILOR_COMPONENTS"])
    import platformdirs

    return Path(platformdirs.user_data_dir("Tailor", appauthor=False)) / "components"


def component_folder(name: str) -> Path:
    """One component's folder, for this Python (its wheels are built for one)."""
    return components_root() / name / f"py{sys.version_info.major}{sys.version_info.minor}"


def activate(name: str) -> bool:
    """Put an installed component first on this process's path (a training worker does, before
    it imports anything of the component's); False when it is not installed."""
    folder = component_folder(name)
    if not (folder / "installed.json").is_file():
        return False
    path = str(folder / "site-packages")
    if path not in sys.path:
        sys.path.insert(0, path)
    return True
