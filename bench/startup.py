"""Cold start to a shown window: the installed app (PyInstaller's one folder, as the .deb puts
it in /opt/tailor) against the checkout's ``./tailor``, alternated, on a fresh workspace each
time; the wall time from starting the process to the window reporting itself shown
(``TAILOR_REPORT_STARTUP``), median of N. Qt runs offscreen, the same for both.

    .venv/bin/python bench/startup.py [--app build/dist/tailor/tailor] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(command: list[str]) -> float:
    with tempfile.TemporaryDirectory() as home:
        env = dict(
            os.environ,
            TAILOR_REPORT_STARTUP="1",
            QT_QPA_PLATFORM="offscreen",
            TAILOR_HOME=str(Path(home) / "ws"),  # a new workspace; HOME stays (the set-up's cache)
        )
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert proc.stdout is not None
        shown = None
        for line in proc.stdout:
            if line.startswith("window_shown_s=") and shown is None:
                shown = time.perf_counter() - t0
        proc.wait(timeout=120)
        if shown is None:
            raise RuntimeError(f"{command[0]} never showed its window")
        return shown


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default=str(ROOT / "build" / "dist" / "tailor" / "tailor"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sides = {"installed": [args.app], "checkout": [str(ROOT / "tailor")]}
    times: dict[str, list[float]] = {k: [] for k in sides}
    one(sides["installed"])  # warm the page cache once for each, then alternate
    one(sides["checkout"])
    for _ in range(args.runs):
        for name, command in sides.items():
            times[name].append(one(command))
            print(f"{name}: {times[name][-1]:.2f} s", file=sys.stderr)
    result = {k: {"median_s": round(statistics.median(v), 2), "runs": v} for k, v in times.items()}
    result["ratio"] = round(result["installed"]["median_s"] / result["checkout"]["median_s"], 2)
    print(json.dumps(result, indent=1))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "startup.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
