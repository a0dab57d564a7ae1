"""Training throughput (issue: fine-tuning). Run:

    .venv/bin/python bench/finetune.py                # 2 rounds of 20 steps each, CPU here
    .venv/bin/python bench/finetune.py --rounds 3 --steps 30

Tailor's whole path — a job started through ``Engine.start_training`` (dataset split, detached
worker process, progress files, checkpoint at the end) — against a plain Unsloth + TRL script
with the same model folder, LoRA settings, data, batch and sequence length, alternated in the
same run.
Throughput is training tokens per second over the trainer's own steps (``num_input_tokens_seen``
over the time between the first and last logged step), so loading is not counted on either side.
On an NVIDIA GPU the same script also reports peak GPU memory for both.
Results go to ``bench/results/finetune.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

PLAIN = r"""
import json, sys, time
from unsloth import FastLanguageModel
# isort: split
import torch
from datasets import Dataset
from transformers import TrainerCallback
from trl import SFTConfig, SFTTrainer

hf_dir, data, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
opts = json.loads(sys.argv[5])
gpu = torch.cuda.is_available()
model, tok = FastLanguageModel.from_pretrained(hf_dir, max_seq_length=opts["max_seq_length"],
                                               load_in_4bit=opts["load_in_4bit"] and gpu,
                                               dtype=None)
model = FastLanguageModel.get_peft_model(model, r=opts["rank"], lora_alpha=opts["alpha"],
    lora_dropout=0, target_modules=opts["target_modules"], bias="none",
    use_gradient_checkpointing="unsloth" if gpu else False, random_state=opts["seed"])
rows = []
for line in open(data):
    turns = json.loads(line)["messages"]
    rows.append({"prompt": turns[:-1], "completion": turns[-1:]})
marks = []

class Mark(TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            marks.append((time.monotonic(), state.num_input_tokens_seen))

args = SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=opts["batch_size"],
    gradient_accumulation_steps=opts["gradient_accumulation"],
    learning_rate=opts["learning_rate"], lr_scheduler_type="linear",
    warmup_steps=opts["warmup_steps"], logging_steps=1, save_strategy="no", report_to="none",
    max_length=opts["max_seq_length"], packing=False, completion_only_loss=True, use_cpu=not gpu,
    bf16=gpu and torch.cuda.is_bf16_supported(), fp16=gpu and not torch.cuda.is_bf16_supported(),
    seed=opts["seed"], dataloader_num_workers=0, include_num_input_tokens_seen=True,
    disable_tqdm=True)
if gpu:
    torch.cuda.reset_peak_memory_stats()
SFTTrainer(model=model, processing_class=tok, train_dataset=Dataset.from_list(rows),
           args=args, callbacks=[Mark()]).train()
(t0, n0), (t1, n1) = marks[0], marks[-1]
print(json.dumps({"tokens_per_s": (n1 - n0) / (t1 - t0),
                  "peak_gpu_bytes": torch.cuda.max_memory_allocated() if gpu else None}))
"""


def dataset(n: int) -> list[list[dict]]:
    """Short question → answer conversations, like a support FAQ."""
    return [
        [
            {"role": "user", "content": f"How do I fix error code {1000 + i} on the router?"},
            {
                "role": "assistant",
                "content": f"Error {1000 + i} means the line is down: restart "
                "the router, check the cable in the WAN port, and call us if the light stays red.",
            },
        ]
        for i in range(n)
    ]


def tailor_run(engine, name: str, steps: int, options) -> dict:
    from engine.events import run
    from engine.finetune.job_files import read_json

    started = engine.start_training(name, "smollm2-135m-instruct", "bench", options)
    job = run(engine.follow_training(started.id))
    assert job.status == "done", job.message
    rows = [h for h in job.history if "loss" in h]
    (t0, n0), (t1, n1) = (
        (rows[0]["time"], rows[0]["tokens_seen"]),
        (rows[-1]["time"], rows[-1]["tokens_seen"]),
    )
    result = read_json(job.folder / "result.json")
    return {"tokens_per_s": (n1 - n0) / (t1 - t0), "peak_gpu_bytes": result.get("peak_gpu_bytes")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tailor-bench-ft-"))
    os.environ["TAILOR_HOME"] = str(home)
    from engine.api import Engine
    from engine.finetune.job_files import read_json

    engine = Engine(home)
    engine.first_run()
    engine.save_dataset("bench", dataset(64))
    preset = engine.training_preset()
    # No validation and no mid-run checkpoint, as in the plain script (Tailor still saves the
    # adapter and writes its GGUF at the end, outside the measured steps).
    options = engine.training_options(
        preset, max_steps=args.steps, validation_fraction=0.0, save_every=10_000
    )
    tailor, plain = [], []
    for r in range(args.rounds):
        t = tailor_run(engine, f"bench-{r}", args.steps, options)
        tailor.append(t)
        folder = home / "training" / f"bench-{r}"
        hf = read_json(folder / "job.json")["hf_cache"]
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                PLAIN,
                hf,
                str(folder / "train.jsonl"),
                str(args.steps),
                str(home / f"plain-{r}"),
                options.model_dump_json(),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
        )
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        plain.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(
            f"round {r}: Tailor {t['tokens_per_s']:.1f} tok/s, plain Unsloth "
            f"{plain[-1]['tokens_per_s']:.1f} tok/s",
            flush=True,
        )
    med_t = statistics.median(x["tokens_per_s"] for x in tailor)
    med_p = statistics.median(x["tokens_per_s"] for x in plain)
    results = {
        "preset": preset,
        "steps": args.steps,
        "rounds": args.rounds,
        "tailor_tokens_per_s": [x["tokens_per_s"] for x in tailor],
        "plain_tokens_per_s": [x["tokens_per_s"] for x in plain],
        "median_ratio": med_t / med_p,
        "plain_peak_gpu_bytes": [x["peak_gpu_bytes"] for x in plain],
        "tailor_peak_gpu_bytes": [x["peak_gpu_bytes"] for x in tailor],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finetune.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    engine.close()


if __name__ == "__main__":
    main()
