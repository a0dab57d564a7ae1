"""Reading user files of records (JSONL, a JSON array, CSV, Parquet) one way everywhere, so
every importer reports bad rows by line number in the same words."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InvalidData, TailorError


@dataclass
class Records:
    """``rows`` are (where, value) pairs — "line 3", "item 2", "row 5" — for error messages;
    ``problems`` the lines that could not be read at all; ``document`` the parsed object when a
    ``.json`` file holds one object rather than a list (SQuAD's layout, say)."""

    rows: list[tuple[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    document: object = None


def read(path: Path, suffixes: tuple[str, ...], what: str) -> Records:
    """Read ``path``; ``suffixes`` are the kinds this importer takes, ``what`` names the data in
    the message for any other kind."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        kinds = (
            ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 else suffixes[0]
        )
        raise TailorError(f"{path.name}: {what} are imported from {kinds} files.")
    if suffix == ".parquet":
        # pyarrow directly: the datasets library would write an Arrow copy of the user's
        # training data into its global cache (~/.cache/huggingface), outside the workspace.
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(str(path)).to_pylist()
        except Exception as exc:  # pyarrow raises several kinds for a bad file
            raise InvalidData([f"not a readable Parquet file ({exc})"], path.name) from None
        return Records([(f"row {n}", r) for n, r in enumerate(rows, 1)])
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise TailorError(f"Could not read {path}: {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise InvalidData([f"not UTF-8 text (byte {exc.start})"], path.name) from None
    records = Records()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise InvalidData(["the file is empty"], path.name)
        # Line numbers count the header, as a spreadsheet shows them.
        records.rows = [(f"line {reader.line_num}", r) for r in reader]
    elif suffix == ".json" and text.lstrip()[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidData([f"line {exc.lineno}: invalid JSON ({exc.msg})"], path.name) from None
        if isinstance(data, list):
            records.rows = [(f"item {n}", r) for n, r in enumerate(data, 1)]
        else:
            records.document = data
    else:  # JSONL (a .json file of lines is read the same way)
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.rows.append((f"line {number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    records.problems.append(f"line {number}: invalid JSON ({exc.msg})")
    return records
