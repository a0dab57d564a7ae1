"""Example sets (Level 2): input → output pairs shown to the model as demonstration turns.

Import and export JSONL (one ``{"input": …, "output": …}`` object a line) and CSV (columns
``input`` and ``output``). Validation reports every bad row with its line number, and nothing is
written unless the whole file is good.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from engine import storage
from engine.errors import AlreadyExists, InvalidData, NotFound
from engine.records import read
from engine.workspace import Workspace

# Other spellings peers' exports use for the two columns.
INPUT_KEYS = ("input", "prompt", "question", "user")
OUTPUT_KEYS = ("output", "completion", "answer", "response", "assistant")


@dataclass(frozen=True)
class Example:
    input: str
    output: str


def _pick(row: dict, keys: tuple[str, ...]) -> str | None:
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key in keys:
        if key in lowered and lowered[key] is not None:
            return str(lowered[key])
    return None


def _check(row: dict, where: str, problems: list[str]) -> Example | None:
    given, wanted = _pick(row, INPUT_KEYS), _pick(row, OUTPUT_KEYS)
    missing = [n for n, v in (("input", given), ("output", wanted)) if v is None or not v.strip()]
    if missing:
        problems.append(f"{where}: missing or empty {' and '.join(missing)}")
        return None
    return Example(given, wanted)


def parse_file(path: Path) -> list[Example]:
    """Read examples from a ``.jsonl``/``.json`` or ``.csv`` file; raise listing every problem."""
    path = Path(path)
    records = read(path, (".jsonl", ".json", ".csv"), "examples")
    if records.document is not None:
        raise InvalidData(["expected one example per line, or a list of them"], path.name)
    problems, examples = records.problems, []
    for where, row in records.rows:
        if not isinstance(row, dict):
            problems.append(f"{where}: expected an object with input and output")
        elif (example := _check(row, where, problems)) is not None:
            examples.append(example)
    if problems:
        raise InvalidData(problems, path.name)
    if not examples:
        raise InvalidData(["no examples found"], path.name)
    return examples


def write_file(examples: list[Example], path: Path) -> None:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["input", "output"])
            writer.writerows([e.input, e.output] for e in examples)
    else:
        with path.open("w", encoding="utf-8") as f:
            for e in examples:
                f.write(json.dumps({"input": e.input, "output": e.output}, ensure_ascii=False))
                f.write("\n")


class ExampleSets:
    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def names(self) -> list[str]:
        return [
            r["name"] for r in self.ws.db.execute("SELECT name FROM example_sets ORDER BY name")
        ]

    def counts(self) -> dict[str, int]:
        rows = self.ws.db.execute(
            "SELECT s.name, COUNT(e.id) AS n FROM example_sets s "
            "LEFT JOIN examples e ON e.set_id = s.id GROUP BY s.id ORDER BY s.name"
        )
        return {r["name"]: r["n"] for r in rows}

    def create(self, name: str, examples: list[Example] = ()) -> None:
        name = storage.check_name(name, "An example set")
        with self.ws.transaction() as db:
            if db.execute("SELECT 1 FROM example_sets WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"An example set named '{name}' already exists.")
            set_id = db.execute("INSERT INTO example_sets(name) VALUES (?)", (name,)).lastrowid
            self._insert(set_id, examples)

    def get(self, name: str) -> list[Example]:
        rows = self.ws.db.execute(
            "SELECT input, output FROM examples WHERE set_id = ? ORDER BY position",
            (self._id(name),),
        )
        return [Example(r["input"], r["output"]) for r in rows]

    def replace(self, name: str, examples: list[Example]) -> None:
        """Replace a set's examples in one transaction (the editor's Save)."""
        with self.ws.transaction() as db:
            set_id = self._id(name)
            db.execute("DELETE FROM examples WHERE set_id = ?", (set_id,))
            self._insert(set_id, examples)

    def import_file(self, name: str, path: Path) -> int:
        """Create set ``name`` from a file, or append to it if it exists; return how many."""
        examples = parse_file(path)
        # One transaction, so an import running at the same time cannot lose these rows.
        with self.ws.transaction():
            if name in self.names():
                self.replace(name, self.get(name) + examples)
            else:
                self.create(name, examples)
        return len(examples)

    def export_file(self, name: str, path: Path) -> int:
        examples = self.get(name)
        write_file(examples, path)
        return len(examples)

    def delete(self, name: str) -> None:
        self.ws.db.execute("DELETE FROM example_sets WHERE id = ?", (self._id(name),))

    def _insert(self, set_id: int, examples) -> None:
        self.ws.db.executemany(
            "INSERT INTO examples(set_id, position, input, output) VALUES (?, ?, ?, ?)",
            [(set_id, i, e.input, e.output) for i, e in enumerate(examples)],
        )

    def _id(self, name: str) -> int:
        row = self.ws.db.execute("SELECT id FROM example_sets WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No example set named '{name}'. Example sets: {known}.")
        return row["id"]
