"""The metrics a run reports, and how each reads, the same in the window and on the command
line: a score with its 95% interval as "0.41 ± 0.05", a median speed as "1.23", a change between
runs as "+0.11", each to its metric's own precision (API cost to five places, token counts
whole)."""

from __future__ import annotations

from dataclasses import dataclass


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
    # Of the right answers that cite a passage, the share whose cited passages hold the answer.
    Metric("citation", "Citations right", "retrieval"),
    Metric("ttft_s", "First token (s)", "speed", False),
    Metric("latency_s", "Latency (s)", "speed", False),
    Metric("tokens_in", "Tokens in", "speed", False, "{:.0f}"),
    Metric("tokens_out", "Tokens out", "speed", False, "{:.0f}"),
    Metric("compute_s", "CPU s/query", "speed", False),
    Metric("api_cost", "API $/query", "speed", False, "{:.5f}"),
]
METRIC = {x.key: x for x in METRICS}
SPEED_KEYS = {x.key for x in METRICS if x.group == "speed"}

MISSING = "—"


def config_name(assistant: str, version: int | None) -> str:
    """A run's configuration by name: "Support bot v3" for an assistant's version, the label
    alone for an ad-hoc configuration (stored without a version, e.g. the ladder's)."""
    return assistant if version is None else f"{assistant} v{version}"


def format_value(key: str, number: float | None) -> str:
    """One value of metric ``key`` at that metric's precision; "—" when there is none."""
    return MISSING if number is None else METRIC[key].fmt.format(number)


def format_cell(key: str, cell: dict | None) -> str:
    """A scoreboard cell: the value, with "± half the 95% interval" when it has one."""
    if cell is None:
        return MISSING
    text = format_value(key, cell["value"])
    if "low" in cell and cell["high"] > cell["low"]:
        text += f" ± {(cell['high'] - cell['low']) / 2:.2f}"
    return text


def format_change(key: str, delta: float) -> str:
    """A signed difference between two runs at the metric's precision: "+0.11", "-0.04"."""
    return ("-" if delta < 0 else "+") + format_value(key, abs(delta))
