"""A loaded model is never used after it was freed, a swap is never scored as a wrong answer,
malformed GGUF metadata is refused with a message, an evaluation pattern cannot hang a run, and
a model file's own text is never shown as markup. Calls that crashed the process before these
fixes run in a subprocess, so a crash is a failed test, not a dead test run."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import bundled
from engine.api import DEFAULT_ASSISTANT
from engine.errors import InvalidModelFile
from engine.events import run
from engine.models import gguf_file
from engine.models.runtime import ModelUnloaded
from engine.types import Case, RunOptions, Target

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = bundled.DEFAULT_MODEL_NAME


def run_script(script: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter on this checkout; a segfault shows as rc -11."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- defect 2: a freed model ----------------------------------------------------------------


def test_a_closed_model_refuses_every_call_instead_of_crashing():
    proc = run_script(
        """
        import json
        from engine import bundled
        from engine.models.runtime import LoadedModel, LoadOptions, ModelUnloaded, SamplingParams

        model = LoadedModel(LoadOptions(bundled.default_model_path(), n_ctx=256))
        before = [model.count_tokens("hello world"), model.n_ctx]
        model.close()
        calls = {
            "count_tokens": lambda: model.count_tokens("hello world"),
            "n_ctx": lambda: model.n_ctx,
            "stream": lambda: list(
                model.stream([{"role": "user", "content": "hi"}], SamplingParams(max_tokens=4))
            ),
        }
        after = {}
        for name, call in calls.items():
            try:
                after[name] = repr(call())
            except ModelUnloaded as exc:
                after[name] = "ModelUnloaded: " + str(exc)
        print(json.dumps({"before": before, "after": after}))
        """
    )
    out = last_json(proc)
    assert out["before"][0] > 0 and out["before"][1] == 256
    for name in ("count_tokens", "n_ctx", "stream"):
        assert out["after"][name].startswith("ModelUnloaded: The model was unloaded"), name


def test_chatting_while_another_thread_swaps_models(tmp_path):
    """A chat on the bundled model while another task keeps loading a second model (the same
    weights under another name): every reply is complete and equal to an undisturbed one."""
    proc = run_script(
        """
        import json, sys, threading
        from pathlib import Path
        from engine import bundled
        from engine.api import Engine, run
        from engine.types import AssistantConfig

        engine = Engine(Path(sys.argv[1]))
        engine.first_run()
        engine.import_model(bundled.default_model_path(), name="copy")
        config = AssistantConfig(model=bundled.DEFAULT_MODEL_NAME, temperature=0.0, max_tokens=12)

        def ask():
            return run(engine.chat("Name a colour.", config=config, seed=0)).text

        reference = ask()
        replies, errors, swaps = [], [], []
        chatting = threading.Event()
        done = threading.Event()

        def chat():
            try:
                chatting.set()
                for _ in range(6):
                    replies.append(ask())
            except BaseException as exc:
                errors.append(repr(exc))
            finally:
                done.set()

        def swap():
            chatting.wait()
            while not done.is_set():
                engine.preload_model("copy")  # frees the chat's model as soon as it is idle
                swaps.append(1)

        threads = [threading.Thread(target=chat), threading.Thread(target=swap)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        engine.close()
        print(json.dumps({"reference": reference, "replies": replies, "errors": errors,
                          "swaps": len(swaps)}))
        """,
        str(tmp_path / "ws"),
    )
    out = last_json(proc)
    assert out["errors"] == []
    assert out["reference"].strip() and out["swaps"] >= 2
    assert out["replies"] == [out["reference"]] * 6


# -- defect 8: a swap during an evaluation --------------------------------------------------

CASES = [
    Case("sky", "What colour is the sky on a clear day?", ("blue",)),
    Case("capital", "What is the capital of France?", ("Paris",)),
    Case("legs", "How many legs does a spider have?", ("eight",)),
]
OPTIONS = RunOptions(max_tokens=12, temperature=0.0)


@pytest.fixture
def eval_engine(engine):
    engine.import_model(bundled.default_model_path(), name="copy")
    engine.save_eval_set("swap", CASES)
    clean = engine.create_eval_run("swap", [Target(DEFAULT_ASSISTANT)], OPTIONS)
    run(engine.evaluate(clean))
    engine.undisturbed = {r["case"]: r["response"] for r in engine.eval_results(clean)}
    assert all(engine.undisturbed.values())
    return engine


def swap_while_building(engine, monkeypatch, swaps: list, when):
    """Another task loads the other model while a reply's messages are built (after the chat
    loaded its model, before it generates), whenever ``when(message)`` says so."""
    chat = engine.services.chat
    real = chat.build_messages

    def build(config, history, message, *rest, **kw):
        if when(message):
            engine.preload_model("copy")
            swaps.append(message)
        return real(config, history, message, *rest, **kw)

    monkeypatch.setattr(chat, "build_messages", build)
    return real


def evaluate(engine, run_id: int):
    """Run an evaluation to its end; its Outcome."""
    return list(engine.evaluate(run_id))[-1]


def test_a_swap_during_an_evaluation_is_redone_not_scored(eval_engine, monkeypatch):
    engine = eval_engine
    swaps: list = []
    swap_while_building(engine, monkeypatch, swaps, lambda _message: not swaps)
    run_id = engine.create_eval_run("swap", [Target(DEFAULT_ASSISTANT)], OPTIONS)
    assert evaluate(engine, run_id).status == "done"
    results = engine.eval_results(run_id)
    assert swaps == [CASES[0].input]
    assert [r["stats"].get("error") for r in results] == [None] * 3
    assert {r["case"]: r["response"] for r in results} == engine.undisturbed


def test_a_case_lost_to_swaps_is_left_for_the_resume(eval_engine, monkeypatch):
    engine = eval_engine
    swaps: list = []
    real = swap_while_building(engine, monkeypatch, swaps, lambda m: m == CASES[1].input)
    run_id = engine.create_eval_run("swap", [Target(DEFAULT_ASSISTANT)], OPTIONS)
    with pytest.raises(ModelUnloaded, match="unloaded"):
        run(engine.evaluate(run_id))
    assert len(swaps) > 1  # retried before giving up
    assert engine.get_eval_run(run_id)["status"] == "failed"
    assert [r["case"] for r in engine.eval_results(run_id)] == ["sky"]  # nothing stored for it

    monkeypatch.setattr(engine.services.chat, "build_messages", real)
    assert evaluate(engine, run_id).status == "done"
    results = engine.eval_results(run_id)
    assert {r["case"]: r["response"] for r in results} == engine.undisturbed
    assert not any(r["stats"].get("error") for r in results)


# -- defect 12: malformed metadata ----------------------------------------------------------

UINT32, STRING, ARRAY, UINT64 = 4, 8, 9, 10


def _str(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _kv(key: str, kind: int, payload: bytes) -> bytes:
    return _str(key) + struct.pack("<I", kind) + payload


def write_raw_gguf(path: Path, *kvs: bytes, alignment: int = 32) -> Path:
    """A GGUF with the given key/value records and one small F32 tensor, byte by byte, so that
    metadata the gguf package would never write can be tested."""
    tensor = _str("token_embd.weight") + struct.pack("<IQQIQ", 2, 8, 16, 0, 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kvs)) + b"".join(kvs) + tensor
    pad = (-len(head)) % alignment if alignment else 0
    path.write_bytes(head + b"\0" * pad + b"\0" * (8 * 16 * 4))
    return path


ARCH = _kv("general.architecture", STRING, _str("llama"))


def test_the_raw_writer_makes_a_valid_model(tmp_path):
    named = _kv("general.name", STRING, _str("raw"))
    info = gguf_file.inspect(write_raw_gguf(tmp_path / "ok.gguf", ARCH, named))
    assert (info.architecture, info.name, info.parameters) == ("llama", "raw", 128)


@pytest.mark.parametrize(
    ("kvs", "alignment", "message"),
    [
        ([ARCH, _kv("general.alignment", UINT32, struct.pack("<I", 0))], 0, "not a power of two"),
        ([ARCH, _kv("general.alignment", UINT32, struct.pack("<I", 48))], 48, "power of two"),
        ([ARCH, _kv("general.alignment", UINT64, struct.pack("<Q", 32))], 32, "wrong type"),
        (
            [_kv("general.architecture", ARRAY, struct.pack("<IQ", STRING, 1) + _str("llama"))],
            32,
            "general.architecture has the wrong type",
        ),
        (
            # 5,000 arrays, each holding the next: a recursive reader runs out of stack.
            [ARCH, _kv("deep", ARRAY, struct.pack("<IQ", ARRAY, 1) * 5000 + b"\0" * 12)],
            32,
            "array of arrays",
        ),
        ([ARCH, ARCH], 32, "appears twice"),
    ],
    ids=["alignment-0", "alignment-48", "alignment-u64", "list-architecture", "nested", "dupe"],
)
def test_malformed_metadata_is_refused_with_a_message(tmp_path, kvs, alignment, message):
    path = write_raw_gguf(tmp_path / "bad.gguf", *kvs, alignment=alignment)
    with pytest.raises(InvalidModelFile, match=message):
        gguf_file.inspect(path)


# -- defect 13: an evaluation pattern that never ends --------------------------------------


def test_a_catastrophic_pattern_is_stopped_and_recorded_as_an_error(tmp_path):
    """``(?s)^(.|..)*[@#]$`` tries every split of the reply into one- and two-character pieces:
    without a time limit a 100-character reply keeps it busy for longer than the universe."""
    proc = run_script(
        """
        import json, sys
        from pathlib import Path
        from engine.api import DEFAULT_ASSISTANT, Engine
        from engine.types import Case, RunOptions, Target

        engine = Engine(Path(sys.argv[1]))
        engine.first_run()
        pattern = "(?s)^(.|..)*[@#]$"
        case = Case("slow", "Describe the sea in two sentences.", ("water",), (), pattern)
        engine.save_eval_set("patterns", [case])
        run_id = engine.create_eval_run(
            "patterns", [Target(DEFAULT_ASSISTANT)], RunOptions(max_tokens=48, temperature=0.0)
        )
        final = list(engine.evaluate(run_id))[-1]
        result = engine.eval_results(run_id)[0]
        board = engine.scoreboard(run_id)[0]
        engine.close()
        print(json.dumps({"phase": final.status, "response": result["response"],
                          "scores": result["scores"], "error": result["stats"].get("error"),
                          "errors": board["errors"]}))
        """,
        str(tmp_path / "ws"),
        timeout=300,  # far beyond the 1 s limit: only a hang gets here
    )
    out = last_json(proc)
    assert out["phase"] == "done" and len(out["response"]) > 40
    assert "regex" not in out["scores"] and "f1" in out["scores"]
    assert "took more than 1 s" in out["error"] and "(?s)^(.|..)*[@#]$" in out["error"]
    assert out["errors"] == 1


# -- defect 13: a model's own text shown as markup ------------------------------------------


def test_a_models_name_is_shown_as_text_not_markup(engine, qtbot, tmp_path):
    from PySide6.QtGui import QTextDocument

    from desktop.pages.models import ModelsPage

    name = '<img src="https://example.com/x.png"><b>Bold</b> & <a href="x">co</a>'
    path = write_raw_gguf(tmp_path / "markup.gguf", ARCH, _kv("general.name", STRING, _str(name)))
    engine.import_model(path, name="markup")
    page = ModelsPage(engine)
    qtbot.addWidget(page)
    row = next(r for r in range(page.table.rowCount()) if page.table.item(r, 0).text() == "markup")
    page.table.selectRow(row)
    shown = QTextDocument()
    shown.setHtml(page.details.text())
    assert shown.toPlainText().startswith(name + " — 128 parameters")
