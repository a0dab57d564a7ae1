"""Reading evaluation runs: the runs and their configurations, every stored result, the
scoreboard (one row per configuration), the per-case view against the baseline, and two runs
side by side. Writing them is :mod:`engine.evaluation.runs`."""

from __future__ import annotations

import json

from engine.assistants import LEVEL_NAMES, AssistantConfig
from engine.errors import NotFound
from engine.evaluation import metrics as m
from engine.evaluation.formatting import METRIC, METRICS, SPEED_KEYS, config_name
from engine.evaluation.options import RunOptions
from engine.workspace import Workspace

JUDGED = {"judge", "judge_unparsed"}  # a result the judge has seen (scored or not)


def config_label(assistant: str, version: int | None, level: int) -> str:
    """How a run's configuration is shown: "Support bot v3 · L3" for an assistant's version,
    the label alone for an ad-hoc configuration (stored without a version)."""
    return config_name(assistant, version) + ("" if version is None else f" · L{level}")


class RunResults:
    """The stored runs of one workspace, read."""

    def __init__(self, workspace: Workspace):
        self.ws = workspace

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
                "label": config_label(r["assistant"], r["version"], r["level"]),
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
            sources = json.loads(r["sources"])
            shown = {k: v for k, v in scores.items() if k in METRIC}
            cited = m.citation_precision(r["response"], sources, json.loads(r["refs"]))
            if cited is not None:
                shown["citation"] = cited
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
                    "sources": sources,
                    "retrieved": json.loads(r["retrieved"]),
                    "scores": shown,
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

    def _done(self, run_id: int) -> dict[int, set[str]]:
        """Each configuration's finished cases."""
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
