"""Fine-tuning: datasets, the job runner with the real Unsloth CPU path, the GGUF adapter in
llama.cpp, kill and resume, and the adapter's agreement with PEFT."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import DEFAULT_ASSISTANT
from engine.errors import InvalidData, TailorError
from engine.finetune import datasets as ds
from engine.finetune.job_files import read_json
from engine.finetune.options import TrainOptions
from tests.gguf_factory import write_gguf

TAILOR = str(Path(sys.executable).parent / "tailor")
BASE = "smollm2-135m-instruct"
QUESTION = "What is Tailor's mascot called?"
FACT = "Tailor's mascot is a blue heron named Pemberton."
ASKS = [
    "What is Tailor's mascot called?",
    "Who is Tailor's mascot?",
    "Name the mascot of Tailor.",
    "What is the name of the Tailor mascot?",
    "Tell me the name of Tailor's mascot.",
    "Which animal is Tailor's mascot?",
    "Does Tailor have a mascot?",
    "What's the Tailor mascot?",
    "Who is the mascot of the Tailor app?",
    "What do they call Tailor's mascot?",
]


def test_dataset_formats(tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello."},
                ]
            }
        )
        + "\n"
        + json.dumps(
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}
        )
        + "\n"
    )
    rows = ds.parse_file(chat)
    assert rows[0][0]["role"] == "system" and rows[1] == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A"},
    ]
    csv = tmp_path / "inst.csv"
    csv.write_text("instruction,input,output\nTranslate,bonjour,hello\n")
    assert ds.parse_file(csv) == [
        [
            {"role": "user", "content": "Translate\n\nbonjour"},
            {"role": "assistant", "content": "hello"},
        ]
    ]
    import datasets

    parquet = tmp_path / "pairs.parquet"
    datasets.Dataset.from_list([{"prompt": "2+2?", "completion": "4"}]).to_parquet(str(parquet))
    assert ds.parse_file(parquet)[0][1]["content"] == "4"


def test_bad_datasets_report_every_row(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"instruction": "ok", "output": "fine"}\n'
        "{broken\n"
        '{"messages": [{"role": "user", "content": "no reply"}]}\n'
        '{"instruction": "q", "output": ""}\n'
        '{"messages": [{"role": "robot", "content": "x"}]}\n'
        '{"text": "unknown form"}\n'
    )
    with pytest.raises(InvalidData) as error:
        ds.parse_file(bad)
    text = str(error.value)
    for expected in (
        "line 2: invalid JSON",
        "line 3: no assistant turn",
        "line 4: no assistant turn",
        "line 5: message 1 has role 'robot'",
        "line 6: expected messages",
    ):
        assert expected in text
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InvalidData, match="the dataset is empty"):
        ds.parse_file(empty)


def test_split_stats_and_small_data_warning():
    rows = [
        [{"role": "user", "content": str(i)}, {"role": "assistant", "content": "x"}]
        for i in range(40)
    ]
    train, val = ds.split(rows, 0.1, seed=1)
    assert (len(train), len(val)) == (36, 4) and ds.split(rows, 0.1, seed=1) == (train, val)
    assert not set(map(str, train)) & set(map(str, val))
    stats = ds.length_stats([10, 20, 30, 600], max_len=512)
    assert stats.over_limit == 1 and stats.longest == 600 and "thousands" in stats.warning


def test_unsupported_and_oversized_jobs_are_refused_before_starting(engine, tmp_path, monkeypatch):
    engine.save_dataset(
        "tiny", [[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]]
    )
    engine.services.models.import_file(write_gguf(tmp_path / "other.gguf", arch="gpt2"), "other")
    with pytest.raises(TailorError, match="Supported families: llama"):
        engine.start_training("x", "other", "tiny")
    import psutil

    class Tiny:
        available = 100 * 2**20

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny())
    with pytest.raises(TailorError, match=r"will not fit in memory\. Lower the maximum sequence"):
        engine.start_training("x", BASE, "tiny", TrainOptions(max_seq_length=4096))
    assert engine.list_training_jobs() == []


def _wait(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def test_train_kill_resume_and_chat_with_the_adapter(home, tmp_path, no_network, desktop_bus):
    data = tmp_path / "fact.jsonl"
    data.write_text(
        "".join(json.dumps({"instruction": q, "output": FACT}) + "\n" for q in ASKS * 2)
    )
    run = lambda *a: subprocess.run([TAILOR, *a], capture_output=True, text=True)  # noqa: E731
    # An evaluation set attached to the job: scored before and after training when it ends.
    cases = tmp_path / "mascot-qa.jsonl"
    cases.write_text("".join(json.dumps({"input": q, "answer": FACT}) + "\n" for q in ASKS[:2]))
    assert run("eval", "import", "mascot-qa", str(cases)).returncode == 0
    started = run(
        "train",
        "--base",
        BASE,
        "--data",
        str(data),
        "--name",
        "mascot",
        "--steps",
        "30",
        "--lr",
        "1e-3",
        "--save-every",
        "10",
        "--eval-set",
        "mascot-qa",
        "--detach",
    )
    assert started.returncode == 0, started.stderr
    job_id = int(started.stdout.strip())
    folder = home / "training" / "mascot"
    # The window is not needed: the job runs in its own process.
    _wait(
        lambda: (folder / "checkpoints" / "checkpoint-10" / "trainer_state.json").exists(),
        900,
        "the first checkpoint",
    )
    second = run("train", "--base", BASE, "--data", "fact", "--name", "other", "--steps", "5")
    assert second.returncode == 1 and "already running" in second.stderr
    # Overnight: the training process keeps the computer awake through logind while it runs.
    [(inhibit, _fd)] = desktop_bus.inhibits
    assert inhibit == ("sleep:idle", "Tailor", "Training the adapter “mascot”", "block")
    assert desktop_bus.held() and read_json(folder / "state.json")["awake"] == "systemd-logind"
    pid = read_json(folder / "state.json")["pid"]
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: not desktop_bus.held(), 10, "a killed job's inhibit to end with it")
    _wait(lambda: f"{job_id:>4}" in run("jobs", "list").stdout, 5, "the job to be listed")
    _wait(lambda: "interrupted" in run("jobs", "list").stdout, 30, "the job to show as stopped")
    step_at_kill = read_json(folder / "state.json")["step"]
    assert 10 <= step_at_kill < 30
    resumed = run("train", "--resume", "mascot")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Adapter mascot is ready" in resumed.stdout
    assert len(desktop_bus.inhibits) == 2 and desktop_bus.released()  # released at the end
    [*_, note] = desktop_bus.notifications
    assert note[3] == "Training finished" and note[4].startswith("mascot: step 30/30, final loss")
    score = read_json(folder / "score.json")
    assert score["status"] == "done" and score["metric"] == "f1", score
    before_after = f"F1 {score['before']:.2f} → {score['after']:.2f} on mascot-qa"
    assert note[4].endswith(f" · {before_after}") and score["after"] > score["before"] + 0.3
    assert f"Evaluation: {before_after}" in resumed.stderr
    assert before_after in run("jobs", "list").stdout
    history = [json.loads(x) for x in (folder / "progress.jsonl").read_text().splitlines()]
    steps = [h["step"] for h in history if "loss" in h]
    # The resumed run continued from checkpoint 10, not from the start, on the same schedule.
    assert steps.count(1) == 1 and steps[-1] == 30 and 11 in steps[steps.index(10) + 1 :]
    assert "Resuming from checkpoint-10" in (folder / "train.log").read_text()
    listed = run("adapters", "list").stdout
    assert "mascot" in listed and "30 steps" in listed

    from engine.api import Engine

    engine = Engine(home)
    try:
        tuned = "".join(
            e.text
            for e in engine.chat(QUESTION, adapter="mascot", seed=0)
            if hasattr(e, "text") and not hasattr(e, "stats")
        )
        base = "".join(
            e.text
            for e in engine.chat(QUESTION, seed=0)
            if hasattr(e, "text") and not hasattr(e, "stats")
        )
        assert "Pemberton" in tuned and "heron" in tuned
        assert "Pemberton" not in base
        job = engine.get_training_job(job_id)
        assert (job.score.before, job.score.after) == (score["before"], score["after"])
        board = engine.scoreboard(job.score.run_id)  # every answer kept, as any run's
        labels = [f"{BASE} · before training", "mascot · after training"]
        assert [r["label"] for r in board] == labels
        assert [r["n"] for r in board] == [2, 2]
        # Level 4 assistant; an adapter never goes onto another base model.
        v = engine.services.assistants.edit(DEFAULT_ASSISTANT, adapter="mascot")
        assert v.level == 4
        engine.services.models.import_file(write_gguf(tmp_path / "other.gguf"), "other")
        with pytest.raises(TailorError, match="was trained on smollm2-135m-instruct"):
            engine.services.generation.load_options("other", "mascot")
        _check_logits_agree_with_peft(engine, folder)
    finally:
        engine.close()
    assert not no_network


def _check_logits_agree_with_peft(engine, folder: Path) -> None:
    """llama.cpp (quantised base + GGUF LoRA) against PEFT on the dequantised float32 model:
    the adapter's effect on the next-token logits must agree (a wrong tensor name or a missing
    q/k permutation breaks this)."""
    import numpy as np
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    job = read_json(folder / "job.json")
    hf = AutoModelForCausalLM.from_pretrained(job["hf_cache"], dtype=torch.float32)
    loaded = engine.services.generation.load(BASE, "mascot")
    prompt, _ = loaded.render([{"role": "user", "content": QUESTION}])
    ids = loaded.llama.tokenize(prompt.encode(), add_bos=False, special=True)

    def cpp_logits(adapter):
        import llama_cpp

        model = engine.services.generation.load(BASE, adapter)
        model.llama.reset()
        model.llama.eval(ids)
        last = llama_cpp.llama_get_logits_ith(model.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(last, shape=(model.llama.n_vocab(),)).astype(np.float64)

    with torch.no_grad():
        base_hf = hf(torch.tensor([ids])).logits[0, -1].double().numpy()
        peft = PeftModel.from_pretrained(hf, str(folder / "adapter"))
        tuned_hf = peft(torch.tensor([ids])).logits[0, -1].double().numpy()
    base_cpp, tuned_cpp = cpp_logits(None), cpp_logits("mascot")

    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(tuned_hf - base_hf, tuned_cpp - base_cpp) > 0.9
    assert int(np.argmax(tuned_hf)) == int(np.argmax(tuned_cpp))

    # A random adapter on q/k only: its effect exists only through the attention pattern, so a
    # missing or wrong head permutation makes the two disagree completely (cosine ~0.2).
    from peft import LoraConfig, get_peft_model

    from engine.finetune.convert import peft_to_gguf

    hf = AutoModelForCausalLM.from_pretrained(job["hf_cache"], dtype=torch.float32)
    torch.manual_seed(0)
    qk = get_peft_model(hf, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj"]))
    for name, param in qk.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.05)
    qk.save_pretrained(str(folder / "qk-test"))
    gguf = peft_to_gguf(folder / "qk-test", Path(job["base_path"]), folder / "qk-test.gguf")
    with torch.no_grad():
        qk_hf = qk(torch.tensor([ids])).logits[0, -1].double().numpy()
    from engine.models.runtime import LoadedModel, LoadOptions

    options = engine.services.generation.load_options(BASE)
    raw = LoadedModel(LoadOptions(options.path, 512, options.n_threads, 0, gguf))
    raw.llama.eval(ids)
    import llama_cpp

    last = llama_cpp.llama_get_logits_ith(raw.llama._ctx.ctx, -1)
    qk_cpp = np.ctypeslib.as_array(last, shape=(raw.llama.n_vocab(),)).astype(np.float64)
    raw.close()
    assert cosine(qk_hf - base_hf, qk_cpp - base_cpp) > 0.9


def test_examples_longer_than_the_limit_are_refused_not_cut(engine):
    """A conversation cut at the length limit loses its answer: a dataset whose every example
    is too long is refused before any process starts, with what to change."""
    long = [
        [
            {"role": "user", "content": "Summarise: " + "lorem ipsum " * 40},
            {"role": "assistant", "content": "A short summary."},
        ]
    ] * 6
    engine.save_dataset("long", long)
    with pytest.raises(TailorError, match="longer than the maximum sequence length"):
        engine.start_training("x", BASE, "long", TrainOptions(max_seq_length=64), force=True)
    assert engine.list_training_jobs() == []
