"""Evaluate: evaluation sets, runs against several assistants at once, the scoreboard with its
chart, the per-case view, run history and comparison, and the advisor.

One module per tab, the page that holds them, and the dialogs: page.py (the tabs and what
passes between them), run.py (the Run tab and run history), sets.py (the evaluation sets),
scoreboard.py, cases.py, advisor.py; generate.py (cases written from a knowledge base, also used
by the Fine-tune page), judge.py (the judge prompt), compare.py (two runs side by side)."""

from desktop.pages.evaluate.generate import GenerateDialog
from desktop.pages.evaluate.page import EvaluatePage

__all__ = ["EvaluatePage", "GenerateDialog"]
