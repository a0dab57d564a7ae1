"""The ``tailor`` console command: no arguments opens the app, files or folders open the app
with them (as a file manager's "Open with Tailor" does), anything else is the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    from engine.runtime import run_worker

    if run_worker(sys.argv):  # the installed app starting one of its own workers
        return
    args = sys.argv[1:]
    if all(_is_path(a) for a in args):
        from desktop.app import main as app_main

        sys.exit(app_main(sys.argv[:1], files=[Path(a) for a in args]))
    from engine.cli import main as cli_main

    sys.exit(cli_main())


def _is_path(arg: str) -> bool:
    """A file or folder named so that it cannot be a command (``tailor chat`` is the command
    even beside a file named ``chat``; ``tailor ./chat`` is the file)."""
    return (
        not arg.startswith("-")
        and (os.sep in arg or "/" in arg or bool(Path(arg).suffix))
        and Path(arg).exists()
    )
