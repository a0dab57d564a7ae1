"""Fine-tuning datasets: conversations the adapter learns to continue.

Import JSONL, CSV or Parquet in chat form (``messages``: a list of ``{role, content}``; ShareGPT's
``conversations`` with ``from``/``value`` works too) or instruction form (``instruction``,
optional ``input``, ``output``; ``prompt``/``completion`` and ``question``/``answer`` are read the
same way). Every bad row is reported with its line number and nothing is saved unless the whole
file is good. A dataset is stored in the workspace as normalised chat JSONL, in a file claimed
for it (:mod:`engine.storage`) whose path its row keeps; the train/validation split is drawn from
it, reproducibly, when a job starts.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from engine import storage
from engine.errors import AlreadyExists, InvalidData, NotFound, TailorError
from engine.records import read
from engine.workspace import Workspace

ROLES = {"system", "user", "assistant"}
SHAREGPT_ROLES = {
    "human": "user",
    "gpt": "assistant",
    "system": "system",
    "user": "user",
    "assistant": "assistant",
}
INSTRUCTION_KEYS = (
    ("instruction", "output"),
    ("prompt", "completion"),
    ("question", "answer"),
    ("input", "output"),
)
# The guidance: fine-tuning wants thousands of examples; fewer tends to overfit.
SMALL_DATASET = 1000


def _conversation(row: dict, where: str, problems: list[str]) -> list[dict] | None:
    if not isinstance(row, dict):
        problems.append(f"{where}: expected an object")
        return None
    turns = row.get("messages", row.get("conversations"))
    if turns is not None:
        if isinstance(turns, str):
            try:
                turns = json.loads(turns)
            except json.JSONDecodeError:
                problems.append(f"{where}: messages is not a JSON list")
                return None
        if not isinstance(turns, list) or not turns:
            problems.append(f"{where}: messages must be a non-empty list")
            return None
        out = []
        for n, turn in enumerate(turns, 1):
            if not isinstance(turn, dict):
                problems.append(f"{where}: message {n} is not an object")
                return None
            role = turn.get("role", SHAREGPT_ROLES.get(str(turn.get("from", "")).lower()))
            content = turn.get("content", turn.get("value"))
            if role not in ROLES:
                problems.append(
                    f"{where}: message {n} has role {role!r} (use system, user or assistant)"
                )
                return None
            if not isinstance(content, str) or not content.strip():
                problems.append(f"{where}: message {n} ({role}) is empty")
                return None
            out.append({"role": role, "content": content})
        if not any(t["role"] == "assistant" for t in out):
            problems.append(f"{where}: no assistant turn to learn from")
            return None
        return out
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for ask, answer in INSTRUCTION_KEYS:
        if ask in lowered or answer in lowered:
            question = str(lowered.get(ask) or "").strip()
            reply = str(lowered.get(answer) or "").strip()
            extra = str(lowered.get("input") or "").strip() if ask == "instruction" else ""
            if not question:
                problems.append(f"{where}: empty {ask}")
                return None
            if not reply:
                problems.append(f"{where}: no assistant turn to learn from (empty {answer})")
                return None
            user = f"{question}\n\n{extra}" if extra else question
            turns = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
            if str(lowered.get("system") or "").strip():
                turns.insert(0, {"role": "system", "content": str(lowered["system"]).strip()})
            return turns
    problems.append(f"{where}: expected messages, or instruction and output columns")
    return None


def parse_file(path: Path) -> list[list[dict]]:
    """Conversations from ``.jsonl``/``.json``, ``.csv`` or ``.parquet``; raise listing every
    bad row."""
    path = Path(path)
    records = read(path, (".jsonl", ".json", ".csv", ".parquet"), "training data")
    if records.document is not None:
        raise InvalidData(["expected one conversation per line, or a list of them"], path.name)
    rows, problems = records.rows, records.problems
    conversations = []
    for where, row in rows:
        if (c := _conversation(row, where, problems)) is not None:
            conversations.append(c)
    if problems:
        raise InvalidData(problems, path.name)
    if not conversations:
        raise InvalidData(["the dataset is empty"], path.name)
    return conversations


def split(rows: list, validation: float, seed: int = 0) -> tuple[list, list]:
    """A reproducible train/validation split; at least one validation row when there are 10+."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = round(len(rows) * validation)
    if validation > 0 and len(rows) >= 10:
        n_val = max(n_val, 1)
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return [rows[i] for i in train], [rows[i] for i in val]


@dataclass
class LengthStats:
    rows: int
    mean: float
    median: float
    p95: int
    longest: int
    over_limit: int  # rows longer than the job's maximum sequence length (truncated)
    warning: str = ""

    def summary(self) -> str:
        text = (
            f"{self.rows} conversations · tokens per conversation: median "
            f"{self.median:.0f}, 95th percentile {self.p95}, longest {self.longest}"
        )
        if self.over_limit:
            text += f" · {self.over_limit} longer than the limit (will be truncated)"
        return text


def length_stats(lengths: list[int], max_len: int) -> LengthStats:
    ordered = sorted(lengths)
    warning = ""
    if len(lengths) < SMALL_DATASET:
        warning = (
            f"Only {len(lengths)} examples: fine-tuning usually needs thousands to learn without "
            "overfitting (memorising these examples). It will run; compare it against Level 2 "
            "and 3 on an evaluation set before trusting it."
        )
    return LengthStats(
        rows=len(lengths),
        mean=statistics.mean(lengths) if lengths else 0,
        median=statistics.median(lengths) if lengths else 0,
        p95=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0,
        longest=ordered[-1] if ordered else 0,
        over_limit=sum(1 for n in lengths if n > max_len),
        warning=warning,
    )


def fitting_seq_length(kind: str, lengths: list[int], current: int) -> int:
    """The maximum sequence length to train a dataset with, given its conversations' token
    ``lengths``: a RAFT example (a question with its k + 1 passages) cut at the limit loses its
    answer, so for a RAFT dataset the limit is raised to fit the longest one (rounded up to a
    multiple of 128); otherwise ``current`` stays."""
    needed = -(-max(lengths, default=0) // 128) * 128
    return needed if kind == "raft" and needed > current else current


class Datasets:
    """Named training datasets in the workspace (``datasets/<label>.jsonl`` + a SQLite row)."""

    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self.folder = workspace.home / "datasets"

    def names(self) -> list[str]:
        return [r["name"] for r in self.ws.db.execute("SELECT name FROM datasets ORDER BY name")]

    def summary(self) -> list[dict]:
        return [
            dict(r)
            for r in self.ws.db.execute(
                "SELECT name, rows, source, kind, created_at FROM datasets ORDER BY name"
            )
        ]

    def save(
        self, name: str, conversations: list[list[dict]], source: str = "", kind: str = "chat"
    ) -> Path:
        """Save a dataset; ``kind`` is "chat", or "raft" for retrieval-style examples (an
        adapter trained on one is a RAFT adapter, served with its documents)."""
        name = storage.check_name(name, "A dataset")
        if not conversations:
            raise TailorError("The dataset is empty: there is nothing to learn from.")
        if name in self.names():
            raise AlreadyExists(f"A dataset named '{name}' already exists.")
        path = storage.claim_file(self.folder, name, ".jsonl", "dataset")
        tmp = path.with_name(path.name + ".partial")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                for c in conversations:
                    f.write(json.dumps({"messages": c}, ensure_ascii=False) + "\n")
            tmp.replace(path)
            self.ws.db.execute(
                "INSERT INTO datasets(name, path, rows, source, kind) VALUES (?, ?, ?, ?, ?)",
                (name, str(path), len(conversations), source, kind),
            )
        except BaseException:
            tmp.unlink(missing_ok=True)
            path.unlink(missing_ok=True)  # claimed above: nobody else's
            raise
        return path

    def import_file(self, name: str, path: Path) -> int:
        rows = parse_file(path)
        self.save(name, rows, f"Imported {Path(path).name}")
        return len(rows)

    def from_examples(self, name: str, examples, system_prompt: str = "") -> int:
        rows = []
        for e in examples:
            turns = [
                {"role": "user", "content": e.input},
                {"role": "assistant", "content": e.output},
            ]
            if system_prompt.strip():
                turns.insert(0, {"role": "system", "content": system_prompt})
            rows.append(turns)
        self.save(name, rows, "From an example set")
        return len(rows)

    def from_cases(self, name: str, cases, source: str) -> int:
        """A dataset of question → reference answer pairs (evaluation cases, e.g. ones written
        by a model about a knowledge base's passages)."""
        rows = [
            [
                {"role": "user", "content": c.input},
                {"role": "assistant", "content": c.references[0]},
            ]
            for c in cases
        ]
        self.save(name, rows, source)
        return len(rows)

    def kind(self, name: str) -> str:
        return self._row(name)["kind"]

    def path(self, name: str) -> Path:
        return Path(self._row(name)["path"])

    def get(self, name: str) -> list[list[dict]]:
        path = self.path(name)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise TailorError(f"Dataset '{name}' could not be read ({exc.strerror}).") from None
        return [json.loads(line)["messages"] for line in lines if line.strip()]

    def delete(self, name: str) -> None:
        """Delete a dataset; its file too, unless it lies outside ``datasets/`` or another
        dataset's row names it."""
        path = self.path(name)
        self.ws.db.execute("DELETE FROM datasets WHERE name = ?", (name,))
        others = [r["path"] for r in self.ws.db.execute("SELECT path FROM datasets")]
        storage.remove(self.folder, path, others)

    def _row(self, name: str):
        row = self.ws.db.execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No dataset named '{name}'. Datasets: {known}.")
        return row
