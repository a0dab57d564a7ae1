"""Evaluation: sets of cases, metrics, runs against assistants, the scoreboard and the advisor."""
