"""Reliability: what Tailor does with hostile input, kills and names. Run with:

    .venv/bin/python bench/reliability.py

Prints Markdown tables for the README's reliability section, from real runs on this machine:

1. hostile files: a corpus built here (zip bombs, a PDF that makes pdfium abort, a ReDoS
   heading, a 1,200-level tree, names with quotes, wildcards, newlines and other scripts, a
   file deleted and a folder unplugged mid-run …) indexed by one engine: each input, what was
   expected, whether it was handled, the reason reported;
2. names: names a person can type, given to every kind of record whose files live in the
   workspace: accepted or refused, where the files went, and whether every other record's
   files are still there;
3. GGUF fuzz and kill -9: the corresponding tests run in a child pytest with their figures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

NAMES = ["..", ".", "a/b", "../../outside", "it's 100%_done", "日本", "中文", "a b", "a-b", "A-B"]
REFUSED_NAMES = ["", "two\nlines", "x" * 300]


def hostile_files() -> tuple[str, int, int]:
    from engine.api import Engine
    from tests.knowledge_folder import format_table, hostile_report

    with tempfile.TemporaryDirectory(prefix="tailor-reliability-") as tmp:
        engine = Engine(Path(tmp) / "workspace")
        engine.first_run()
        try:
            started = time.perf_counter()
            rows = hostile_report(engine, Path(tmp))
            took = time.perf_counter() - started
        finally:
            engine.close()
    handled = sum(1 for r in rows if r[2])
    table = format_table(rows)
    return (
        f"{table}\n\n{len(rows)} inputs, {handled} handled, indexed in {took:.0f} s",
        len(rows),
        handled,
    )


def names() -> str:
    """Every name given to each kind of record; then the workspace is checked as a whole."""
    from engine.api import Engine
    from engine.errors import TailorError

    with tempfile.TemporaryDirectory(prefix="tailor-names-") as tmp:
        tmp = Path(tmp)
        data = tmp / "d.jsonl"
        data.write_text(
            "\n".join(json.dumps({"instruction": f"Q{i}?", "output": f"A{i}."}) for i in range(3))
            + "\n"
        )
        cases = tmp / "cases.jsonl"
        cases.write_text(json.dumps({"question": "Q?", "answer": "A."}) + "\n")
        engine = Engine(tmp / "workspace")
        engine.first_run()
        model = engine.get_model("smollm2-135m-instruct").path
        kinds = {
            "dataset": lambda n: engine.import_dataset(data, n),
            "model (import --name)": lambda n: engine.import_model(model, n),
            "knowledge base": lambda n: engine.create_knowledge_base(n),
            "evaluation set": lambda n: engine.import_eval_set(cases, n),
        }
        rows, accepted, refused = [], 0, 0
        try:
            for kind, make in kinds.items():
                outcome = []
                for name in NAMES + REFUSED_NAMES:
                    try:
                        make(name)
                        accepted += 1
                        outcome.append("ok")
                    except TailorError as exc:
                        refused += 1
                        outcome.append(_why(str(exc)))
                ok = sum(1 for o in outcome if o == "ok")
                why = sorted({o for o in outcome if o != "ok"})
                rows.append(f"| {kind} | {ok}/{len(outcome)} accepted | {'; '.join(why)} |")
            home = engine.home
            files = [p for p in (home / "models").iterdir()] + [
                p for p in (home / "datasets").iterdir()
            ]
            outside = [
                p for p in tmp.iterdir() if p.name not in ("workspace", "d.jsonl", "cases.jsonl")
            ]
            intact = (home / "tailor.db").is_file() and not outside
            distinct = len({p.name for p in files}) == len(files)
        finally:
            engine.close()
    head = "| record | names | refused with |\n|---|---|---|"
    tail = (
        f"\n\nNames tried: {', '.join(repr(n) for n in NAMES + REFUSED_NAMES[:2])}, "
        "one of 300 characters. "
        f"{accepted} accepted, {refused} refused with a message; every accepted record has a "
        f"file of its own ({'yes' if distinct else 'NO'}); nothing written outside the "
        f"workspace, database intact ({'yes' if intact else 'NO'})."
    )
    return head + "\n" + "\n".join(rows) + tail


def _why(message: str) -> str:
    for words, short in (
        ("needs a name", "empty"),
        ("one line", "a line break"),
        ("characters long", "too long"),
    ):
        if words in message:
            return short
    return message.splitlines()[0]


def child_tests() -> str:
    """The GGUF fuzz and the kill -9 / two-process proofs, run by pytest here."""
    tests = [
        "tests/test_gguf_fuzz.py",
        "tests/test_indexing_safety.py::test_kill_9_at_ten_random_points_then_resume_equals_a_clean_build",
        "tests/test_indexing_safety.py::test_two_processes_indexing_one_base_equal_a_clean_build",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    figures = [
        line.strip()
        for line in proc.stdout.splitlines()
        if re.match(r"\s*(GGUF fuzz|kill -9|two processes)", line)
    ]
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    return "\n".join(f"- {f}" for f in figures) + f"\n- pytest: {summary}"


def main() -> None:
    table, tried, handled = hostile_files()
    print("## Hostile files\n")
    print(table)
    print("\n## Names\n")
    print(names())
    print("\n## GGUF fuzz and kill -9\n")
    print(child_tests())
    print(
        f"\nThe process running all of the above stayed up: {tried} hostile files tried, "
        f"{handled} handled, 0 crashes."
    )


if __name__ == "__main__":
    main()
