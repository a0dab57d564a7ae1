"""The ``tailor`` console command: no arguments opens the app, anything else is the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) == 1:
        from desktop.app import main as app_main

        sys.exit(app_main())
    from engine.cli import main as cli_main

    sys.exit(cli_main())
