"""How a metric reads, the same in the window and on the command line: a score with its 95%
interval as "0.41 ± 0.05", a median speed as "1.23", a change between runs as "+0.11", each to
its metric's own precision (API cost to five places, token counts whole)."""

from __future__ import annotations

from engine.evaluation.runs import METRIC

MISSING = "—"


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
