"""Overnight with an evaluation set attached: when training ends, the training process scores the
set on the base model and on the new adapter, and the desktop notification tells both. A failed
evaluation never fails the job: it is done, and the notification still gives the final loss and
says the evaluation failed. (The whole path, with a real training run, is in test_finetune.py's
kill and resume test.)

The jobs here are started for real and their worker killed at once (as in test_names.py); what
a finished training leaves (the adapter registered, a logged loss) is then written, and Resume
starts the worker again the user's way: it finds the adapter saved and only scores it."""

import json
import time

import pytest

from engine.errors import NotFound, TailorError
from engine.finetune import worker
from engine.finetune.job_files import read_json, write_json
from engine.types import Case, TrainOptions
from tests.workers import stop as stop_worker

BASE = "smollm2-135m-instruct"
ROWS = [
    [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"A{i}."}]
    for i in range(12)
]
CASES = [Case("c1", "What is Tailor's mascot called?", ("Pemberton",))]


def _trained(engine):
    """A job whose training has ended: the adapter saved and registered, its loss logged."""
    engine.save_dataset("d", ROWS)
    options = TrainOptions(max_steps=1)
    job = engine.start_training("mascot", BASE, "d", options, force=True, eval_set="facts")
    pid = job.pid or read_json(job.folder / "state.json").get("pid")
    stop_worker(pid)
    folder = job.folder
    (folder / "progress.jsonl").write_text(json.dumps({"step": 1, "loss": 2.345}) + "\n")
    # As the worker left it when it was killed (it shows as interrupted).
    state = {"status": "running", "step": 1, "total_steps": 1, "pid": pid}
    write_json(folder / "state.json", state)
    write_json(folder / "result.json", {"steps": 1, "final_train_loss": 2.345})
    worker.register_adapter(folder, read_json(folder / "job.json"), {"steps": 1}, job.id)
    return job


def _wait_done(engine, job_id: int, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while (job := engine.get_training_job(job_id)).status not in ("done", "failed", "cancelled"):
        assert job.status != "interrupted", (job.message, (job.folder / "train.log").read_text())
        assert time.monotonic() < deadline, "timed out waiting for the job to end"
        time.sleep(0.5)
    return job


@pytest.mark.parametrize("failure", ["set deleted", "adapter file gone"])
def test_a_failed_evaluation_leaves_the_job_done_with_its_loss(engine, desktop_bus, failure):
    engine.save_eval_set("facts", CASES)
    job = _trained(engine)
    if failure == "set deleted":  # while it trained
        engine.delete_eval_set("facts")
        why = "No evaluation set named 'facts'"
    else:  # the base model answers, then the adapter cannot be loaded
        (job.folder / "adapter.gguf").unlink(missing_ok=True)
        why = "Adapter 'mascot' is missing its file"
    engine.resume_training(job.id)
    job = _wait_done(engine, job.id)
    log = (job.folder / "train.log").read_text()
    assert job.status == "done", log
    assert job.message == "Trained 1 steps; adapter saved."
    assert job.score.status == "failed" and why in job.score.message
    assert job.score.before is None and job.score.after is None
    assert f"evaluation on facts failed: {why}" in job.summary()
    [*_, note] = desktop_bus.notifications
    assert note[3] == "Training finished"
    assert note[4].startswith("mascot: step 1/1, final loss 2.345 · evaluation on facts failed: ")
    assert why in note[4]
    assert desktop_bus.released()  # the computer may sleep again
    if failure == "adapter file gone":  # the run is kept, failed, with the base model's answer
        run = engine.get_eval_run(job.score.run_id)
        assert run["status"] == "failed" and run["results"] == 1


def test_a_set_is_checked_when_the_job_starts(engine):
    engine.save_dataset("d", ROWS)
    with pytest.raises(NotFound, match="No evaluation set named 'nope'"):
        engine.start_training("a", BASE, "d", TrainOptions(max_steps=1), eval_set="nope")
    engine.save_eval_set("no answers", [Case("c1", "Say anything.", ())])
    with pytest.raises(TailorError, match="no reference answers or patterns"):
        engine.start_training("a", BASE, "d", TrainOptions(max_steps=1), eval_set="no answers")
    assert engine.list_training_jobs() == []


def test_the_fine_tune_page_attaches_a_set_to_the_job(engine, qtbot):
    from PySide6.QtCore import Qt

    from desktop.main_window import MainWindow

    engine.save_dataset("d", ROWS)
    engine.save_eval_set("facts", CASES)
    window = MainWindow(engine)
    qtbot.addWidget(window)
    window.show()
    window.show_page("finetune")
    page = window.pages["finetune"]
    picker = page.eval_with
    assert [picker.itemText(i) for i in range(picker.count())] == ["None", "facts"]
    assert picker.currentData() is None  # none unless chosen
    picker.setCurrentIndex(1)
    page.adapter_name.setText("mascot")
    page.steps.setValue(1)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.train_button.isEnabled(), timeout=60_000)  # started
    [job] = engine.list_training_jobs()
    stop_worker(job.pid or read_json(job.folder / "state.json").get("pid"))
    attached = read_json(job.folder / "job.json")
    assert (attached["eval_set"], attached["eval_set_version"]) == ("facts", 1)
    row = page.jobs.topLevelItem(0)
    assert row.text(4) == "…" and row.toolTip(4) == "scored on facts when training ends"
    engine.save_eval_set("later", CASES)
    page.refresh()
    assert picker.currentText() == "facts" and picker.count() == 3  # the choice is kept
