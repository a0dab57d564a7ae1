"""Evaluation sets: cases with reference answers (and optionally reference documents), versioned
like assistants so a run always records exactly which cases it used.

Import formats:

* JSONL (or a JSON array): one object a line with ``input`` (or ``question``/``prompt``), a
  reference as ``reference``/``answer``/``output`` (a string) or ``references``/``answers`` (a
  list), optionally ``sources`` (reference documents: file names or paths), ``pattern`` (a regular
  expression a good answer matches) and ``id``.
* CSV with the same column names; several references or sources in one cell are separated by
  ``||``.
* SQuAD JSON (``data[].paragraphs[].qas[]``): every question becomes a case whose references are
  its answers and whose source document is its article's title.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine import storage
from engine.errors import AlreadyExists, InvalidData, NotFound, TailorError
from engine.evaluation.metrics import check_pattern
from engine.records import read
from engine.workspace import Workspace

INPUT_KEYS = ("input", "question", "prompt", "query")
REFERENCE_KEYS = ("references", "answers", "reference", "answer", "output", "expected")
SOURCE_KEYS = ("sources", "documents", "source", "document")
PATTERN_KEYS = ("pattern", "regex")
SEPARATOR = "||"


@dataclass(frozen=True)
class Case:
    key: str
    input: str
    references: tuple[str, ...]
    sources: tuple[str, ...] = ()
    pattern: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["references"], d["sources"] = list(self.references), list(self.sources)
        return d


@dataclass(frozen=True)
class SetVersion:
    name: str
    version: int
    id: int
    note: str
    created_at: str
    cases: list[Case] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def _values(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        out = []
        for v in value:  # SQuAD-style answer objects, or plain strings
            v = v.get("text") if isinstance(v, dict) else v
            if v is not None and str(v).strip():
                out.append(str(v).strip())
        return out
    if isinstance(value, str):
        return [p.strip() for p in value.split(SEPARATOR) if p.strip()]
    return [str(value)]


def _pick(row: dict, keys) -> object:
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key in keys:
        if key in lowered and lowered[key] not in (None, ""):
            return lowered[key]
    return None


def case_from_row(row: dict, where: str, problems: list[str], position: int) -> Case | None:
    question = _pick(row, INPUT_KEYS)
    references = _values(_pick(row, REFERENCE_KEYS))
    pattern = _pick(row, PATTERN_KEYS)
    missing = []
    if question is None or not str(question).strip():
        missing.append("input")
    if not references and pattern is None:
        missing.append("reference answer (or pattern)")
    if missing:
        problems.append(f"{where}: missing or empty {' and '.join(missing)}")
        return None
    if pattern is not None and (why := check_pattern(str(pattern))):
        problems.append(f"{where}: pattern is an {why}")
        return None
    key = row.get("id") or row.get("_id") or f"c{position + 1}"
    return Case(
        str(key),
        str(question).strip(),
        tuple(references),
        tuple(_values(_pick(row, SOURCE_KEYS))),
        str(pattern) if pattern is not None else None,
    )


def _squad_cases(data: dict) -> list[Case]:
    cases = []
    for article in data["data"]:
        title = str(article.get("title", "")).strip()
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                answers = _values(qa.get("answers"))
                if not answers:  # SQuAD 2.0 unanswerable questions have none
                    continue
                key = str(qa.get("id") or f"c{len(cases) + 1}")
                cases.append(Case(key, qa["question"].strip(), tuple(answers), (title,)))
    return cases


def parse_file(path: Path) -> list[Case]:
    """Read cases from ``.jsonl``, ``.json`` (JSONL, an array, or SQuAD) or ``.csv``; raise
    listing every problem (nothing is imported unless the whole file is good)."""
    path = Path(path)
    records = read(path, (".jsonl", ".json", ".csv"), "evaluation sets (SQuAD JSON too)")
    if records.document is not None:
        data = records.document
        if not (isinstance(data, dict) and isinstance(data.get("data"), list)):
            raise InvalidData(["expected SQuAD's layout or a list of cases"], path.name)
        try:
            cases = _squad_cases(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidData(
                [f"not SQuAD's layout (data[].paragraphs[].qas[]): missing {exc}"], path.name
            ) from None
        if not cases:
            raise InvalidData(["no answerable questions found"], path.name)
        return cases
    rows, problems = records.rows, records.problems
    cases: list[Case] = []
    for where, row in rows:
        if not isinstance(row, dict):
            problems.append(f"{where}: expected an object with an input and a reference")
            continue
        if (case := case_from_row(row, where, problems, len(cases))) is not None:
            cases.append(case)
    seen: set[str] = set()
    for case in cases:
        if case.key in seen:
            problems.append(f"case id '{case.key}' appears more than once")
        seen.add(case.key)
    if problems:
        raise InvalidData(problems, path.name)
    if not cases:
        raise InvalidData(["no cases found"], path.name)
    return cases


def write_file(cases: list[Case], path: Path) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for c in cases:
            row = {"id": c.key, "input": c.input, "references": list(c.references)}
            if c.sources:
                row["sources"] = list(c.sources)
            if c.pattern:
                row["pattern"] = c.pattern
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


class EvalSets:
    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def names(self) -> list[str]:
        return [r["name"] for r in self.ws.db.execute("SELECT name FROM eval_sets ORDER BY name")]

    def summary(self) -> list[dict]:
        """Each set's name, current version and number of cases."""
        rows = self.ws.db.execute(
            "SELECT s.name, v.version, v.note, "
            "(SELECT COUNT(*) FROM eval_cases c WHERE c.set_version_id = v.id) AS cases "
            "FROM eval_sets s JOIN eval_set_versions v ON v.set_id = s.id "
            "WHERE v.version = (SELECT MAX(version) FROM eval_set_versions WHERE set_id = s.id) "
            "ORDER BY s.name"
        )
        return [dict(r) for r in rows]

    def save(self, name: str, cases: list[Case], note: str = "") -> SetVersion:
        """Create set ``name`` or add its next version, holding exactly ``cases``."""
        name = name.strip()
        if name not in self.names():
            name = storage.check_name(name, "An evaluation set")
        if not cases:
            raise TailorError("An evaluation set needs at least one case.")
        keys = [c.key for c in cases]
        if len(set(keys)) != len(keys):
            raise TailorError("Every case in an evaluation set needs its own id.")
        with self.ws.transaction() as db:
            row = db.execute("SELECT id FROM eval_sets WHERE name = ?", (name,)).fetchone()
            set_id = (
                row["id"]
                if row
                else db.execute("INSERT INTO eval_sets(name) VALUES (?)", (name,)).lastrowid
            )
            version = db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM eval_set_versions WHERE set_id = ?",
                (set_id,),
            ).fetchone()[0]
            vid = db.execute(
                "INSERT INTO eval_set_versions(set_id, version, note) VALUES (?, ?, ?)",
                (set_id, version, note or ("Created" if version == 1 else "")),
            ).lastrowid
            db.executemany(
                "INSERT INTO eval_cases(set_version_id, position, case_key, input, refs, "
                "sources, pattern) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        vid,
                        i,
                        c.key,
                        c.input,
                        json.dumps(list(c.references)),
                        json.dumps(list(c.sources)),
                        c.pattern,
                    )
                    for i, c in enumerate(cases)
                ],
            )
        return self.get(name)

    def create(self, name: str, cases: list[Case], note: str = "") -> SetVersion:
        if name.strip() in self.names():
            raise AlreadyExists(f"An evaluation set named '{name.strip()}' already exists.")
        return self.save(name, cases, note)

    def import_file(self, name: str, path: Path) -> SetVersion:
        """A new set from a file, or the next version of an existing one with the file's
        cases added (cases whose id already exists are replaced)."""
        cases = parse_file(path)
        if name in self.names():
            new = {c.key: c for c in cases}
            old = [c for c in self.get(name).cases if c.key not in new]
            return self.save(name, old + cases, f"Imported {Path(path).name}")
        return self.save(name, cases, f"Imported {Path(path).name}")

    def from_examples(self, name: str, examples) -> SetVersion:
        cases = [Case(f"e{i + 1}", e.input, (e.output,)) for i, e in enumerate(examples)]
        return self.save(name, cases, "From an example set")

    def from_dataset(
        self, name: str, conversations: list[list[dict]], fraction: float = 0.1, seed: int = 3407
    ) -> SetVersion:
        """Cases from the held-out part of a fine-tuning dataset: the same rows a training job
        with this validation fraction and seed keeps out of training (the defaults match
        training's). Input = the last user turn, reference = the assistant's reply to it."""
        from engine.finetune.datasets import split

        _train, held_out = split(conversations, fraction, seed)
        cases = []
        for i, turns in enumerate(held_out):
            last = max(j for j, t in enumerate(turns) if t["role"] == "assistant")
            asks = [t for t in turns[:last] if t["role"] == "user"]
            if asks:
                cases.append(Case(f"d{i + 1}", asks[-1]["content"], (turns[last]["content"],)))
        if not cases:
            raise TailorError(
                "The dataset's held-out part is empty: it needs at least 10 rows (or a larger "
                "fraction) to keep some out of training."
            )
        return self.save(name, cases, f"Held-out {fraction:.0%} of a fine-tuning dataset")

    def get(self, name: str, version: int | None = None) -> SetVersion:
        set_id = self._id(name)
        if version is None:
            row = self.ws.db.execute(
                "SELECT * FROM eval_set_versions WHERE set_id = ? ORDER BY version DESC LIMIT 1",
                (set_id,),
            ).fetchone()
        else:
            row = self.ws.db.execute(
                "SELECT * FROM eval_set_versions WHERE set_id = ? AND version = ?",
                (set_id, version),
            ).fetchone()
            if row is None:
                raise NotFound(f"Evaluation set '{name}' has no version {version}.")
        return self._load(name, row)

    def by_version_id(self, version_id: int) -> SetVersion:
        row = self.ws.db.execute(
            "SELECT v.*, s.name FROM eval_set_versions v JOIN eval_sets s ON s.id = v.set_id "
            "WHERE v.id = ?",
            (version_id,),
        ).fetchone()
        return self._load(row["name"], row)

    def history(self, name: str) -> list[dict]:
        rows = self.ws.db.execute(
            "SELECT version, note, created_at, (SELECT COUNT(*) FROM eval_cases c "
            "WHERE c.set_version_id = v.id) AS cases FROM eval_set_versions v "
            "WHERE set_id = ? ORDER BY version DESC",
            (self._id(name),),
        )
        return [dict(r) for r in rows]

    def export_file(self, name: str, path: Path) -> int:
        cases = self.get(name).cases
        write_file(cases, path)
        return len(cases)

    def delete(self, name: str) -> None:
        self.ws.db.execute("DELETE FROM eval_sets WHERE id = ?", (self._id(name),))

    def _load(self, name: str, row) -> SetVersion:
        cases = [
            Case(
                r["case_key"],
                r["input"],
                tuple(json.loads(r["refs"])),
                tuple(json.loads(r["sources"])),
                r["pattern"],
            )
            for r in self.ws.db.execute(
                "SELECT * FROM eval_cases WHERE set_version_id = ? ORDER BY position", (row["id"],)
            )
        ]
        return SetVersion(name, row["version"], row["id"], row["note"], row["created_at"], cases)

    def _id(self, name: str) -> int:
        row = self.ws.db.execute("SELECT id FROM eval_sets WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No evaluation set named '{name}'. Evaluation sets: {known}.")
        return row["id"]
