"""A training job's files survive a full disk or a kill mid-write (issue 11, defect 10).

The worker appends one ``json.dumps(row) + "\\n"`` line to ``progress.jsonl`` per logged step;
a disk that fills up (or a kill) can leave the last line cut short. The job's folder and row
are made here the way :meth:`Jobs.start` makes them, without starting a training process."""

import json

from engine.finetune import job_files
from engine.finetune.job_files import write_json

BASE = "smollm2-135m-instruct"
STEPS = [
    {"step": s, "time": 1000.0 + s, "loss": 2.0 - s / 10, "learning_rate": 2e-4, "tokens_seen": 90}
    for s in range(1, 5)
]


def _line(row: dict) -> str:
    return json.dumps(row) + "\n"  # as the worker's Progress.on_log writes it


def _job(engine, home, lines: str) -> tuple[int, object]:
    folder = home / "training" / "cut"
    folder.mkdir(parents=True)
    write_json(folder / "job.json", {"adapter": "cut", "base_model": BASE, "too_long": 0})
    write_json(
        folder / "state.json",
        {"status": "failed", "step": 3, "total_steps": 4, "message": "The disk is full."},
    )
    (folder / "progress.jsonl").write_text(lines, encoding="utf-8")
    job_id = engine.services.workspace.db.execute(
        "INSERT INTO training_jobs(adapter, base_model, dataset, folder) VALUES (?, ?, ?, ?)",
        ("cut", BASE, "d", str(folder)),
    ).lastrowid
    return job_id, folder


def test_a_cut_short_line_then_a_resumed_run_keeps_the_whole_history(engine, home):
    full = "".join(_line(r) for r in STEPS[:3])
    cut = _line(STEPS[3])[:25]  # the disk filled up in the middle of step 4's line
    job_id, folder = _job(engine, home, full + cut)
    assert [h["step"] for h in engine.get_training_job(job_id).history] == [1, 2, 3]

    # Resume: the worker repairs the file before it appends again, so step 4 logged by the
    # resumed run starts on a line of its own and every line is a whole step.
    job_files.repair_progress(folder)
    assert (folder / "progress.jsonl").read_text(encoding="utf-8") == full
    with (folder / "progress.jsonl").open("a", encoding="utf-8") as f:
        f.write(_line(STEPS[3]))
    job = engine.get_training_job(job_id)
    assert [h["step"] for h in job.history] == [1, 2, 3, 4]
    assert job.train_losses[-1] == (4, STEPS[3]["loss"])
    lines = (folder / "progress.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4]
    # What the worker reads for the adapter's results once training has finished.
    assert [h["loss"] for h in job_files.read_progress(folder)] == [r["loss"] for r in STEPS]


def test_a_file_an_older_version_appended_to_after_a_cut_is_still_read(engine, home):
    """Before the repair, a resumed run appended right after the fragment, and one bad line
    cost the whole loss history (and failed every resume once the adapter was written)."""
    lines = _line(STEPS[0]) + _line(STEPS[1])[:30] + _line(STEPS[2]) + _line(STEPS[3])
    job_id, folder = _job(engine, home, lines)
    job = engine.get_training_job(job_id)
    assert [h["step"] for h in job.history] == [1, 3, 4]
    assert "loss" in job.summary()
    assert [h["step"] for h in job_files.read_progress(folder)] == [1, 3, 4]


def test_an_empty_or_missing_progress_file(engine, home):
    job_id, folder = _job(engine, home, "")
    assert engine.get_training_job(job_id).history == []
    job_files.repair_progress(folder)
    (folder / "progress.jsonl").unlink()
    job_files.repair_progress(folder)
    assert engine.get_training_job(job_id).history == [] and job_files.read_progress(folder) == []
