"""Evaluation runs: one set version against one or more assistant configurations.

Every (configuration, case) result is written as soon as it is finished, with the exact prompt,
the passages the answer used, the documents retrieval ranked, the response, the scores and the
timings, so a run that is cancelled, crashes or is killed resumes with the cases it had not
done. Answers come first, configuration by configuration (one model load each); a judge, if
chosen, scores them afterwards in a second pass (one more model load).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.assistants import LEVEL_NAMES, AssistantConfig
from engine.errors import InvalidData, NotFound, TailorError
from engine.evaluation import judge as judge_mod
from engine.evaluation import metrics as m
from engine.evaluation.sets import Case, EvalSets
from engine.models.runtime import CancelToken, ModelUnloaded, Reply, SamplingParams
from engine.raft.format import ANSWER_TAG, final_answer


class RunOptions(BaseModel):
    """How a run answers and scores. ``None`` keeps each assistant's own setting."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(None, ge=1, le=32768)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int = 0
    judge_model: str | None = None
    judge_prompt: str = judge_mod.DEFAULT_PROMPT
    rubric: str = judge_mod.DEFAULT_RUBRIC
    price_per_1k_tokens: float | None = Field(None, ge=0.0)
    retrieval_depth: int = Field(10, ge=1, le=100)


@dataclass(frozen=True)
class Target:
    """What to evaluate: an assistant's version (None = its current one)."""

    assistant: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """``NAME`` or ``NAME@VERSION`` (e.g. ``Support bot@3``)."""
        name, _, version = text.rpartition("@")
        if name and version.isdigit():
            return cls(name, int(version))
        return cls(text)


@dataclass
class RunProgress:
    run_id: int
    phase: str  # "answering", "judging", "done"
    done: int
    total: int
    label: str = ""
    elapsed_s: float = 0.0
    eta_s: float | None = None
    last: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    group: str  # "quality", "retrieval", "speed"
    higher_is_better: bool = True
    fmt: str = "{:.2f}"


METRICS = [
    Metric("em", "Exact match", "quality"),
    Metric("f1", "F1", "quality"),
    Metric("contains", "Contains", "quality"),
    Metric("regex", "Regex", "quality"),
    Metric("judge", "Judge", "quality"),
    Metric("recall", "Recall@k", "retrieval"),
    Metric("mrr", "MRR", "retrieval"),
    Metric("ndcg10", "nDCG@10", "retrieval"),
    Metric("ttft_s", "First token (s)", "speed", False),
    Metric("latency_s", "Latency (s)", "speed", False),
    Metric("tokens_in", "Tokens in", "speed", False, "{:.0f}"),
    Metric("tokens_out", "Tokens out", "speed", False, "{:.0f}"),
    Metric("compute_s", "CPU s/query", "speed", False),
    Metric("api_cost", "API $/query", "speed", False, "{:.5f}"),
]
METRIC = {x.key: x for x in METRICS}
SPEED_KEYS = {x.key for x in METRICS if x.group == "speed"}
JUDGED = {"judge", "judge_unparsed"}  # a result the judge has seen (scored or not)


def score_case(case: Case, response: str, ranking: list[str] | None, k: int) -> tuple[dict, str]:
    """The answer metrics (and retrieval metrics when both reference documents and a ranking
    exist) for one case, and why a metric could not be computed ("" if all were). A reply with
    a ``<ANSWER>:`` tail (RAFT) is scored on that answer."""
    response = final_answer(response)
    scores: dict[str, float] = {}
    error = ""
    if case.references:
        scores["em"] = m.exact_match(response, case.references)
        scores["f1"] = m.token_f1(response, case.references)
        scores["contains"] = m.contains(response, case.references)
    if case.pattern:
        try:
            scores["regex"] = m.regex_match(response, case.pattern)
        except m.PatternTimeout as exc:  # no score: a stopped match is not a wrong answer
            error = str(exc)
    if case.sources and ranking is not None:
        scores["recall"] = m.recall_at_k(ranking, case.sources, k)
        scores["mrr"] = m.reciprocal_rank(ranking, case.sources)
        scores["ndcg10"] = m.ndcg_at_k(ranking, case.sources, 10)
    return scores, error


class EvalRuns:
    def __init__(self, engine):
        self.engine = engine
        self.ws = engine.workspace
        self.sets: EvalSets = engine.eval_sets

    # -- creating and running ----------------------------------------------------------------

    def create(
        self,
        set_name: str,
        targets: list[Target],
        options: RunOptions | None = None,
        set_version: int | None = None,
    ) -> int:
        """Record a run: the set version and a snapshot of each target's configuration."""
        options = options or RunOptions()
        if not targets:
            raise TailorError("Choose at least one assistant to evaluate.")
        if options.judge_model:
            self.engine.models.get(options.judge_model)
            if why := judge_mod.check_prompt(options.judge_prompt):
                raise TailorError(why)
        version = self.sets.get(set_name, set_version)
        snapshots = []
        for t in targets:
            ver = self.engine.assistants.get(t.assistant, t.version)
            snapshots.append((t.assistant, ver.version, ver.level, ver.config.model_dump_json()))
        with self.ws.transaction() as db:
            run_id = db.execute(
                "INSERT INTO eval_runs(set_version_id, options, status) VALUES (?, ?, 'pending')",
                (version.id, options.model_dump_json()),
            ).lastrowid
            db.executemany(
                "INSERT INTO eval_run_configs(run_id, position, assistant, version, level, config)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, i, *s) for i, s in enumerate(snapshots)],
            )
        return run_id

    def run(self, run_id: int, cancel: CancelToken | None = None) -> Iterator[RunProgress]:
        """Do whatever the run has not done yet; yields progress after every case."""
        run = self._run_row(run_id)
        options = RunOptions(**json.loads(run["options"]))
        cases = self.sets.by_version_id(run["set_version_id"]).cases
        case_ids = self._case_ids(run["set_version_id"])
        configs = self.configs(run_id)
        done = self._done(run_id)
        judging = bool(options.judge_model)
        total = len(configs) * len(cases) * (2 if judging else 1)
        count = sum(len(v) for v in done.values()) + (self._judged(run_id) if judging else 0)
        self._set_status(run_id, "running")
        start = time.perf_counter()
        fresh = 0

        def progress(phase, label, last=None):
            elapsed = time.perf_counter() - start
            eta = elapsed / fresh * (total - count) if fresh else None
            return RunProgress(run_id, phase, count, total, label, elapsed, eta, last or {})

        try:
            for cfg in configs:
                config: AssistantConfig = cfg["config"]
                overrides = {
                    k: v
                    for k, v in (
                        ("max_tokens", options.max_tokens),
                        ("temperature", options.temperature),
                    )
                    if v is not None
                }
                config = config.model_copy(update=overrides)
                warm = False
                for case in cases:
                    if case.key in done[cfg["id"]]:
                        continue
                    if cancel is not None and cancel.cancelled:
                        self._set_status(run_id, "stopped", "Cancelled; resume to finish.")
                        return
                    if not warm:  # load before timing: latency is per query, not per load
                        yield progress("answering", f"{cfg['label']} · loading {config.model}")
                        self._warm_up(config)
                        warm = True
                    yield progress("answering", f"{cfg['label']} · case {case.key}")
                    result = self._answer(config, case, options, cancel)
                    if result is None:  # cancelled mid-answer: not recorded, redone on resume
                        self._set_status(run_id, "stopped", "Cancelled; resume to finish.")
                        return
                    self._store(cfg["id"], case_ids[case.key], result)
                    count += 1
                    fresh += 1
                    yield progress("answering", cfg["label"], result["scores"])
            if judging:
                for event in self._judge_all(run_id, options, cases, cancel):
                    if event is None:
                        self._set_status(run_id, "stopped", "Cancelled; resume to finish.")
                        return
                    count += 1
                    fresh += 1
                    yield progress("judging", "Judge " + options.judge_model, event)
        except NotFound as exc:
            self._set_status(run_id, "failed", str(exc))
            raise
        except BaseException as exc:
            self._set_status(run_id, "failed", str(exc) or type(exc).__name__)
            raise
        self._set_status(run_id, "done")
        yield progress("done", "Finished")

    def run_to_end(self, run_id: int, cancel: CancelToken | None = None) -> RunProgress:
        """Run :meth:`run` to the end (headless use); return the final progress."""
        return deque(self.run(run_id, cancel), maxlen=1)[0]

    def _warm_up(self, config: AssistantConfig) -> None:
        self.engine.load_model(config.model, config.adapter)
        if config.knowledge_base:
            self.engine.knowledge.search(config.knowledge_base, "warm-up", 1)
        elif config.example_set and config.few_shot_k:
            self.engine.embedder.encode(["warm-up"])

    def _answer(self, config, case: Case, options: RunOptions, cancel) -> dict | None:
        engine = self.engine
        cpu0, t0 = time.process_time(), time.perf_counter()
        reply: Reply | None = None
        first = None
        error = ""
        try:
            for event in engine.chat(case.input, config=config, cancel=cancel, seed=options.seed):
                if isinstance(event, Reply):
                    reply = event
                elif first is None and hasattr(event, "text"):
                    first = time.perf_counter() - t0
        except (NotFound, ModelUnloaded):
            # A swap the engine could not ride out says nothing about the answer: the case is
            # left undone (the run fails with the message) and a resume answers it.
            raise
        except TailorError as exc:  # e.g. this case's prompt does not fit the context
            error = str(exc)
        latency = time.perf_counter() - t0
        if reply is not None and reply.stats.stop_reason == "cancelled":
            return None
        ranking = None
        if config.knowledge_base and case.sources:
            hits = engine.knowledge.search(
                config.knowledge_base, case.input, options.retrieval_depth * 3
            )
            ranking = m.document_ranking([h.source for h in hits])[: options.retrieval_depth]
        response = reply.text if reply else ""
        # A RAFT reply cut off before its <ANSWER>: has given no answer (its quotes are not one).
        unanswered = engine.is_raft(config) and ANSWER_TAG not in response
        scores, score_error = score_case(
            case, "" if unanswered else response, ranking, config.retrieval_k
        )
        error = error or score_error
        stats = reply.stats if reply else None
        tokens_in = stats.prompt_tokens if stats else 0
        tokens_out = stats.completion_tokens if stats else 0
        speed = {
            "ttft_s": first if first is not None else latency,
            "latency_s": latency,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "compute_s": time.process_time() - cpu0,
        }
        if options.price_per_1k_tokens is not None:
            speed["api_cost"] = (tokens_in + tokens_out) / 1000 * options.price_per_1k_tokens
        return {
            "response": response,
            "prompt": {
                "messages": reply.messages if reply else [],
                "rendered": reply.prompt if reply else "",
            },
            "sources": reply.sources if reply else [],
            "retrieved": ranking or [],
            "scores": scores,
            "stats": speed | ({"error": error} if error else {}),
        }

    def _judge_all(self, run_id, options: RunOptions, cases: list[Case], cancel):
        by_key = {c.key: c for c in cases}
        rows = self.ws.db.execute(
            "SELECT r.rowid, r.response, r.scores, c.case_key FROM eval_results r "
            "JOIN eval_run_configs rc ON rc.id = r.run_config_id "
            "JOIN eval_cases c ON c.id = r.case_id WHERE rc.run_id = ? ORDER BY r.rowid",
            (run_id,),
        ).fetchall()
        for row in rows:
            scores = json.loads(row["scores"])
            if JUDGED & scores.keys():
                continue
            if cancel is not None and cancel.cancelled:
                yield None
                return
            case = by_key[row["case_key"]]
            prompt = judge_mod.render(
                options.judge_prompt, case.input, case.references, row["response"], options.rubric
            )
            reply = self.engine.generate(
                options.judge_model,
                [{"role": "user", "content": prompt}],
                SamplingParams(temperature=0.0, max_tokens=32, seed=options.seed),
                cancel,
            )
            if reply.stats.stop_reason == "cancelled":
                yield None
                return
            score = judge_mod.parse_score(reply.text)
            if score is None:
                scores["judge_unparsed"] = 1.0
            else:
                scores["judge"] = score
            scores_json = json.dumps(scores | {"judge_reply": reply.text[:500]})
            self.ws.db.execute(
                "UPDATE eval_results SET scores = ? WHERE rowid = ?", (scores_json, row["rowid"])
            )
            yield {"judge": score}

    # -- reading results ---------------------------------------------------------------------

    def list(self, run_id: int | None = None) -> list[dict]:
        """Runs, newest first (or just ``run_id``), with their set and progress counts."""
        rows = self.ws.db.execute(
            "SELECT r.id, r.status, r.message, r.created_at, r.finished_at, s.name AS set_name, "
            "v.version AS set_version, "
            "(SELECT COUNT(*) FROM eval_run_configs WHERE run_id = r.id) AS configs, "
            "(SELECT COUNT(*) FROM eval_cases WHERE set_version_id = v.id) AS cases, "
            "(SELECT COUNT(*) FROM eval_results x JOIN eval_run_configs c ON c.id = "
            "x.run_config_id WHERE c.run_id = r.id) AS results "
            "FROM eval_runs r JOIN eval_set_versions v ON v.id = r.set_version_id "
            "JOIN eval_sets s ON s.id = v.set_id WHERE ? IS NULL OR r.id = ? ORDER BY r.id DESC",
            (run_id, run_id),
        )
        out = []
        for r in rows:
            d = dict(r)
            d["assistants"] = [c["label"] for c in self.configs(r["id"])]
            out.append(d)
        return out

    def get(self, run_id: int) -> dict:
        options = RunOptions(**json.loads(self._run_row(run_id)["options"]))
        return self.list(run_id)[0] | {"options": options}

    def configs(self, run_id: int) -> list[dict]:
        rows = self.ws.db.execute(
            "SELECT * FROM eval_run_configs WHERE run_id = ? ORDER BY position", (run_id,)
        )
        return [
            {
                "id": r["id"],
                "position": r["position"],
                "assistant": r["assistant"],
                "version": r["version"],
                "level": r["level"],
                "config": AssistantConfig(**json.loads(r["config"])),
                "label": f"{r['assistant']} v{r['version']} · L{r['level']}",
            }
            for r in rows
        ]

    def results(self, run_id: int) -> list[dict]:
        """Every stored result: configuration, case and what was recorded."""
        rows = self.ws.db.execute(
            "SELECT r.*, rc.position, rc.assistant, rc.version, rc.level, c.case_key, c.input, "
            "c.refs, c.sources AS ref_sources FROM eval_results r "
            "JOIN eval_run_configs rc ON rc.id = r.run_config_id "
            "JOIN eval_cases c ON c.id = r.case_id WHERE rc.run_id = ? "
            "ORDER BY rc.position, c.position",
            (run_id,),
        )
        out = []
        for r in rows:
            scores = json.loads(r["scores"])
            out.append(
                {
                    "case": r["case_key"],
                    "input": r["input"],
                    "references": json.loads(r["refs"]),
                    "reference_sources": json.loads(r["ref_sources"]),
                    "assistant": r["assistant"],
                    "version": r["version"],
                    "level": r["level"],
                    "position": r["position"],
                    "response": r["response"],
                    "prompt": json.loads(r["prompt"]),
                    "sources": json.loads(r["sources"]),
                    "retrieved": json.loads(r["retrieved"]),
                    "scores": {k: v for k, v in scores.items() if k in METRIC},
                    "judge_reply": scores.get("judge_reply"),
                    "stats": json.loads(r["stats"]),
                }
            )
        return out

    def scoreboard(self, run_id: int) -> list[dict]:
        """One row per configuration: each metric's mean (with a 95% interval for quality and
        retrieval scores) or median (speed), over the cases finished so far."""
        results = self.results(run_id)
        rows = []
        for cfg in self.configs(run_id):
            mine = [r for r in results if r["position"] == cfg["position"]]
            row = {
                "label": cfg["label"],
                "assistant": cfg["assistant"],
                "version": cfg["version"],
                "level": cfg["level"],
                "level_name": LEVEL_NAMES[cfg["level"]],
                "n": len(mine),
                "errors": sum(1 for r in mine if r["stats"].get("error")),
                "metrics": {},
            }
            for metric in METRICS:
                if metric.key in SPEED_KEYS:
                    values = [r["stats"][metric.key] for r in mine if metric.key in r["stats"]]
                    if values:
                        row["metrics"][metric.key] = {"value": m.median(values)}
                else:
                    values = [r["scores"][metric.key] for r in mine if metric.key in r["scores"]]
                    if values:
                        mean, lo, hi = m.mean_ci(values)
                        row["metrics"][metric.key] = {"value": mean, "low": lo, "high": hi}
            rows.append(row)
        return rows

    def per_case(self, run_id: int, metric: str = "f1") -> list[dict]:
        """For every case, each configuration's score and response, and how each configuration
        compares with the first one (the baseline): "helped", "hurt" or "same"."""
        results = self.results(run_id)
        configs = self.configs(run_id)
        by_case: dict[str, dict] = {}
        for r in results:
            entry = by_case.setdefault(
                r["case"],
                {
                    "case": r["case"],
                    "input": r["input"],
                    "references": r["references"],
                    "cells": [None] * len(configs),
                },
            )
            entry["cells"][r["position"]] = {
                "score": r["scores"].get(metric),
                "response": r["response"],
                "sources": r["sources"],
            }
        for entry in by_case.values():
            base = entry["cells"][0]
            for cell in entry["cells"]:
                if cell is None or base is None or cell["score"] is None or base["score"] is None:
                    continue
                delta = cell["score"] - base["score"]
                cell["change"] = "helped" if delta > 1e-9 else "hurt" if delta < -1e-9 else "same"
        return list(by_case.values())

    def compare(self, run_a: int, run_b: int) -> list[dict]:
        """Scoreboard rows of two runs side by side, matched by assistant (then by position),
        with the change in every metric both have."""
        a, b = self.scoreboard(run_a), self.scoreboard(run_b)
        out = []
        for i, row_b in enumerate(b):
            match = next((r for r in a if r["assistant"] == row_b["assistant"]), None)
            if match is None and i < len(a):
                match = a[i]
            deltas = {}
            for key, value in row_b["metrics"].items():
                if match and key in match["metrics"]:
                    deltas[key] = value["value"] - match["metrics"][key]["value"]
            out.append({"a": match, "b": row_b, "delta": deltas})
        return out

    def delete(self, run_id: int) -> None:
        self._run_row(run_id)
        self.ws.db.execute("DELETE FROM eval_runs WHERE id = ?", (run_id,))

    # -- internals ---------------------------------------------------------------------------

    def _run_row(self, run_id: int):
        row = self.ws.db.execute("SELECT * FROM eval_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"No evaluation run {run_id}.")
        return row

    def _case_ids(self, version_id: int) -> dict[str, int]:
        return {
            r["case_key"]: r["id"]
            for r in self.ws.db.execute(
                "SELECT id, case_key FROM eval_cases WHERE set_version_id = ?", (version_id,)
            )
        }

    def _done(self, run_id: int) -> dict[int, set[str]]:
        done: dict[int, set[str]] = {c["id"]: set() for c in self.configs(run_id)}
        for r in self.ws.db.execute(
            "SELECT r.run_config_id, c.case_key FROM eval_results r "
            "JOIN eval_cases c ON c.id = r.case_id JOIN eval_run_configs rc "
            "ON rc.id = r.run_config_id WHERE rc.run_id = ?",
            (run_id,),
        ):
            done[r["run_config_id"]].add(r["case_key"])
        return done

    def _judged(self, run_id: int) -> int:
        rows = self.ws.db.execute(
            "SELECT r.scores FROM eval_results r JOIN eval_run_configs rc "
            "ON rc.id = r.run_config_id WHERE rc.run_id = ?",
            (run_id,),
        )
        return sum(1 for r in rows if JUDGED & json.loads(r["scores"]).keys())

    def _store(self, config_id: int, case_id: int, result: dict) -> None:
        self.ws.db.execute(
            "INSERT OR REPLACE INTO eval_results(run_config_id, case_id, response, prompt, "
            "sources, retrieved, scores, stats) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                config_id,
                case_id,
                result["response"],
                json.dumps(result["prompt"]),
                json.dumps(result["sources"]),
                json.dumps(result["retrieved"]),
                json.dumps(result["scores"]),
                json.dumps(result["stats"]),
            ),
        )

    def _set_status(self, run_id: int, status: str, message: str = "") -> None:
        finished = "datetime('now')" if status in ("done", "failed", "stopped") else "NULL"
        self.ws.db.execute(
            f"UPDATE eval_runs SET status = ?, message = ?, finished_at = {finished} WHERE id = ?",
            (status, message, run_id),
        )


def validate_options(data: dict) -> RunOptions:
    try:
        return RunOptions(**data)
    except ValidationError as exc:
        raise InvalidData.from_validation(exc, "The run's options") from None
