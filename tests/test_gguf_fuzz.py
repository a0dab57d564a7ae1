"""Fuzzing the model check: a few hundred seeded mutations of the bundled model's header (bit
flips, truncations, huge counts, wrong types), each inspected in a child process with a time
limit. Every one must be refused with a message, or inspect cleanly and then load in llama.cpp
or be refused by it: no crash, no hang.

Mutants are built at test time: the bundled GGUF's header (about 1.8 MB) with the mutation
applied, followed by a sparse hole as long as the tensor data, so no large file is written.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

from engine import bundled

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = 400
SEED = 11
BATCH = 40
BATCH_TIMEOUT_S = 120  # a batch takes a few seconds; only a hang reaches this

# Each mutant is inspected (and maybe loaded) in turn; a line before and after each one says
# which mutant a crash or a hang belongs to.
CHILD = """
import json, os, sys
from pathlib import Path
from engine.errors import TailorError
from engine.models import gguf_file

source, header_len, size, workdir, jobs = sys.argv[1:6]
with open(source, "rb") as f:
    header = f.read(int(header_len))
for job in json.loads(Path(jobs).read_text()):
    print("start", job["id"], flush=True)
    data = bytearray(header)
    for offset, hexbytes in job["patches"]:
        patch = bytes.fromhex(hexbytes)
        data[offset : offset + len(patch)] = patch
    path = Path(workdir) / f"m{job['id']}.gguf"
    with path.open("wb") as f:
        cut = job["truncate"]
        f.write(data[:cut] if cut is not None and cut < len(data) else data)
        f.truncate(cut if cut is not None and cut >= len(data) else int(size))
    result = {"id": job["id"]}
    try:
        gguf_file.inspect(path)
        result["inspect"] = "accepted"
    except TailorError as exc:
        result["inspect"] = "refused"
        result["message"] = str(exc)
    except BaseException as exc:
        result["inspect"] = "error"
        result["message"] = f"{type(exc).__name__}: {exc}"
    if result["inspect"] == "accepted":
        from engine.models.runtime import LoadedModel, LoadOptions
        try:
            LoadedModel(LoadOptions(path, n_ctx=64)).close()
            result["load"] = "loaded"
        except TailorError as exc:
            result["load"] = "refused"
        except BaseException as exc:
            result["load"] = f"error {type(exc).__name__}: {exc}"
    path.unlink()
    print("done", json.dumps(result), flush=True)
"""


def header_fields(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """Where the header's structural fields are, as (offset, width) by kind: written here,
    independently of the code under test, from the GGUF specification."""
    fields: dict[str, list[tuple[int, int]]] = {
        k: [] for k in ("count", "length", "type", "item", "dims", "ttype", "toffset", "value")
    }
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    pos = 8

    def u(fmt: str) -> int:
        nonlocal pos
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    def skip(n: int) -> None:
        nonlocal pos
        pos += n

    def string() -> None:
        fields["length"].append((pos, 8))
        skip(u("<Q"))

    fields["count"] += [(8, 8), (16, 8)]
    n_tensors, n_kv = u("<Q"), u("<Q")
    for _ in range(n_kv):
        string()
        fields["type"].append((pos, 4))
        kind = u("<I")
        if kind == 9:
            fields["item"].append((pos, 4))
            item = u("<I")
            fields["count"].append((pos, 8))
            count = u("<Q")
            for _ in range(count):
                if item == 8:
                    string()
                else:
                    skip(sizes[item])
        elif kind == 8:
            string()
        else:
            fields["value"].append((pos, sizes[kind]))
            skip(sizes[kind])
    for _ in range(n_tensors):
        string()
        fields["dims"].append((pos, 4))
        n_dims = u("<I")
        for _ in range(n_dims):
            fields["dims"].append((pos, 8))
            u("<Q")
        fields["ttype"].append((pos, 4))
        u("<I")
        fields["toffset"].append((pos, 8))
        u("<Q")
    return fields


def mutate(rng: random.Random, data: bytes, fields: dict, size: int) -> dict:
    """One seeded mutation: patches as (offset, hex bytes) and an optional truncation."""
    patches: list[tuple[int, str]] = []
    truncate = None
    kind = rng.choice(["flip", "field-flip", "huge", "type", "truncate"])
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(8, len(data))
            patches.append((at, bytes([data[at] ^ (1 << rng.randrange(8))]).hex()))
    elif kind == "field-flip":
        at, width = rng.choice(fields[rng.choice(list(fields))])
        at += rng.randrange(width)
        patches.append((at, bytes([data[at] ^ (1 << rng.randrange(8))]).hex()))
    elif kind == "huge":
        group = rng.choice(["count", "length", "dims", "toffset", "value"])
        at, width = rng.choice(fields[group])
        old = int.from_bytes(data[at : at + width], "little")
        value = rng.choice([0, 1, old + 1, old - 1, old * 2, size, 2**31, 2**32, 2**63, 2**64 - 1])
        patches.append((at, (value % 2 ** (8 * width)).to_bytes(width, "little").hex()))
    elif kind == "type":
        at, width = rng.choice(fields[rng.choice(["type", "item", "ttype"])])
        value = rng.choice([*range(14), 40, 2**31, 2**32 - 1])
        patches.append((at, value.to_bytes(width, "little").hex()))
    else:
        truncate = rng.choice([rng.randrange(8, len(data)), rng.randrange(len(data), size)])
    return {"kind": kind, "patches": patches, "truncate": truncate}


def test_mutated_headers_are_refused_or_accepted_never_crash(tmp_path):
    source = bundled.default_model_path()
    size = source.stat().st_size
    from engine.models.gguf_file import read_header

    header_len = read_header(source)[2]
    data = source.read_bytes()[:header_len]
    fields = header_fields(data)
    assert len(fields["ttype"]) == 272 and len(fields["length"]) > 90_000

    rng = random.Random(SEED)
    jobs = [mutate(rng, data, fields, size) | {"id": i} for i in range(MUTANTS)]

    results: dict[int, dict] = {}
    failures: list[str] = []
    pending = list(jobs)
    while pending:
        batch, pending = pending[:BATCH], pending[BATCH:]
        (tmp_path / "jobs.json").write_text(json.dumps(batch))
        args = [str(source), str(header_len), str(size), str(tmp_path), str(tmp_path / "jobs.json")]
        started = None
        try:
            proc = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(CHILD), *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=BATCH_TIMEOUT_S,
            )
            out, rc = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out, rc = (exc.stdout or b"").decode(), "hang"
        for line in out.splitlines():
            word, _, rest = line.partition(" ")
            if word == "start":
                started = int(rest)
            elif word == "done":
                result = json.loads(rest)
                results[result["id"]] = result
                started = None
        if started is not None:  # died or hung on this one: record it, go on after it
            failures.append(f"mutant {started} ({jobs[started]['kind']}): {rc}")
            pending = [j for j in batch if j["id"] > started and j["id"] not in results] + pending
        elif rc != 0:
            failures.append(f"batch ending {batch[-1]['id']}: rc {rc}\n{proc.stderr[-2000:]}")

    assert failures == []
    assert len(results) == MUTANTS
    errors = [r for r in results.values() if r["inspect"] == "error"]
    assert errors == []
    bad_loads = [
        r for r in results.values() if r.get("load", "loaded") not in ("loaded", "refused")
    ]
    assert bad_loads == []
    refused = [r for r in results.values() if r["inspect"] == "refused"]
    accepted = [r for r in results.values() if r["inspect"] == "accepted"]
    loaded = [r for r in results.values() if "load" in r]
    # The mutations reach both sides of the check, and llama.cpp saw every accepted file.
    assert len(refused) > MUTANTS // 3 and len(accepted) > 10 and len(loaded) == len(accepted)
    assert all(r["message"].strip() for r in refused)
    llama_refused = sum(1 for r in loaded if r["load"] == "refused")
    print(
        f"\nGGUF fuzz (seed {SEED}): {MUTANTS} mutated headers, {len(refused)} refused by "
        f"Tailor's check with a message, {len(accepted)} accepted ({len(accepted) - llama_refused}"
        f" loaded by llama.cpp, {llama_refused} refused by it); 0 crashes, 0 hangs"
    )
