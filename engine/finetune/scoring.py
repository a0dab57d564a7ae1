"""A training job's score on an evaluation set, before and after training.

A job may have an evaluation set attached (its version pinned when the job starts). Once the
adapter is saved, the training process itself — the window may well be closed — runs that set
on the base model ("before") and on the base model with the new adapter ("after"): one
evaluation run, kept with the others (the Evaluate page shows it case by case), answering
greedily with at most :data:`MAX_TOKENS` tokens. The two scores go into ``score.json`` in the
job's folder; the job's summary and its desktop notification show them ("F1 0.40 → 0.55 on
facts"). An evaluation that fails or is stopped is recorded as such and never fails the job.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import Cancelled, TailorError
from engine.evaluation.formatting import METRIC, format_value
from engine.finetune.job_files import read_json, write_json

if TYPE_CHECKING:
    from engine.evaluation.runs import EvalRuns
    from engine.evaluation.sets import SetVersion
    from engine.models.runtime import CancelToken

SCORE_FILE = "score.json"
MAX_TOKENS = 256  # per answer: the evaluation stays short, whatever the model
# The score reported, the first of these the set's cases give (reference answers, a pattern).
PREFERRED = ("f1", "contains", "em", "regex")


@dataclass(frozen=True)
class AdapterScore:
    """The attached set's score before and after training. ``status``: "waiting" (training
    runs), "scoring", "done", "failed" or "stopped" (``message`` says why)."""

    eval_set: str
    status: str = "waiting"
    metric: str = ""  # e.g. "f1"
    before: float | None = None  # the base model's mean
    after: float | None = None  # the base model with the adapter
    run_id: int | None = None  # the evaluation run holding every answer
    message: str = ""

    @property
    def metric_label(self) -> str:
        return METRIC[self.metric].label if self.metric in METRIC else self.metric

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def summary(self) -> str:
        """How it reads: "F1 0.40 → 0.55 on facts", or how far the evaluation got."""
        where = f"on {self.eval_set}"
        if self.status == "done":
            before = format_value(self.metric, self.before)
            after = format_value(self.metric, self.after)
            return f"{self.metric_label} {before} → {after} {where}"
        if self.status == "failed":
            why = self.message if len(self.message) <= 200 else self.message[:199] + "…"
            return f"evaluation {where} failed: {why}"
        if self.status == "stopped":
            return f"evaluation {where} stopped"
        if self.status == "scoring":
            return f"scoring {where}…"
        return f"scored {where} when training ends"


def check_scorable(version: SetVersion) -> None:
    """Refuse a set that gives nothing to score an answer against."""
    if not version.cases:
        raise TailorError(f"Evaluation set '{version.name}' has no cases to score the adapter on.")
    if not any(c.references or c.pattern for c in version.cases):
        raise TailorError(
            f"Evaluation set '{version.name}' has no reference answers or patterns, so the "
            "adapter's answers could not be scored. Add references, or choose another set."
        )


def read_score(folder: Path, job: dict) -> AdapterScore | None:
    """The score of the job whose ``job.json`` is ``job``; None when no set is attached."""
    if not job.get("eval_set"):
        return None
    known = {f.name for f in fields(AdapterScore)} - {"eval_set"}
    data = {k: v for k, v in read_json(folder / SCORE_FILE).items() if k in known}
    return AdapterScore(job["eval_set"], **data)


def write_score(folder: Path, score: AdapterScore) -> None:
    write_json(folder / SCORE_FILE, asdict(score))


def system_prompt_of(train_file: Path) -> str:
    """The system prompt every training conversation starts with ("" when they have none, or
    not all the same one): the adapter is scored as it was trained."""
    prompts = set()
    with train_file.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            first = json.loads(line)["messages"][0]
            prompts.add(first["content"] if first["role"] == "system" else "")
            if len(prompts) > 1:
                return ""
    return prompts.pop() if prompts else ""


def before_after(
    evals: EvalRuns,
    job: dict,
    system_prompt: str = "",
    cancel: CancelToken | None = None,
    on_event: Callable[[object], None] | None = None,
) -> AdapterScore:
    """Run the job's set on its base model and on its adapter (registered by then) and give
    both scores; a failure or a stop is given back as the score's status, never raised. Each
    event of the run goes to ``on_event``."""
    from engine.assistants import AssistantConfig
    from engine.evaluation.options import RunOptions, Target
    from engine.events import run

    name = job["eval_set"]
    common = {
        "model": job["base_model"],
        "system_prompt": system_prompt,
        "temperature": 0.0,
        "max_tokens": MAX_TOKENS,
    }
    targets = [
        Target.ad_hoc(f"{job['base_model']} · before training", AssistantConfig(**common)),
        Target.ad_hoc(
            f"{job['adapter']} · after training",
            AssistantConfig(**common, adapter=job["adapter"]),
        ),
    ]
    run_id = None
    try:
        options = RunOptions(temperature=0.0, max_tokens=MAX_TOKENS)
        run_id = evals.create(name, targets, options, job.get("eval_set_version"))
        run(evals.evaluate(run_id, cancel=cancel), on_event)
        before, after = evals.scoreboard(run_id)
        metric = next(
            (k for k in PREFERRED if k in before["metrics"] and k in after["metrics"]), None
        )
        if metric is None:
            raise TailorError("its cases gave no score (no reference answers or patterns)")
        return AdapterScore(
            name,
            "done",
            metric,
            before["metrics"][metric]["value"],
            after["metrics"][metric]["value"],
            run_id,
        )
    except Cancelled:
        return AdapterScore(name, "stopped", run_id=run_id, message="Stopped.")
    except Exception as exc:  # recorded and shown; the adapter is saved whatever happens here
        traceback.print_exc()
        return AdapterScore(name, "failed", run_id=run_id, message=str(exc) or type(exc).__name__)
