"""The advisor: which rung to start from (a questionnaire), and whether to climb (the numbers).

The questions are the ones the ladder's guidance asks; the recommendation from numbers compares
each configuration in a run with the best lower rung, on one quality metric and on latency,
against thresholds the user can change.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from engine.assistants import LEVEL_NAMES
from engine.evaluation.formatting import config_name

QUESTIONS = [
    ("general_knowledge", "Does the model's general knowledge cover what people will ask?"),
    ("specific_format", "Do answers need a specific format, style or tone?"),
    ("private_documents", "Must answers come from private, recent or changing documents?"),
    ("labelled_examples", "How many labelled examples (input → good answer) do you have?"),
    ("stable_domain", "Is the domain stable (its terms and answers change rarely)?"),
    ("high_stakes", "Is it high-stakes (a wrong answer is costly)?"),
]


class Answers(BaseModel):
    general_knowledge: bool = True
    specific_format: bool = False
    private_documents: bool = False
    labelled_examples: int = Field(0, ge=0)
    stable_domain: bool = True
    high_stakes: bool = False


class Thresholds(BaseModel):
    """When a higher rung is worth keeping."""

    min_gain: float = Field(0.05, ge=0, description="Smallest quality gain worth having (0–1).")
    max_latency_ratio: float = Field(5.0, gt=0, description="Most extra latency accepted (×).")
    min_finetune_examples: int = Field(1000, ge=1, description="Examples Level 4 needs.")
    metric: str = "f1"


@dataclass
class Advice:
    level: int
    headline: str
    reasons: list[str]

    def text(self) -> str:
        return self.headline + "\n" + "\n".join(f"• {r}" for r in self.reasons)


def from_answers(a: Answers, thresholds: Thresholds | None = None) -> Advice:
    """Where to start, and what would justify climbing."""
    t = thresholds or Thresholds()
    enough = a.labelled_examples >= t.min_finetune_examples
    reasons: list[str] = []
    if a.private_documents:
        if a.high_stakes and a.stable_domain and enough:
            level = 5
            reasons.append(
                "Answers depend on your documents and mistakes are costly; with "
                f"{a.labelled_examples} examples and a stable domain, RAFT (a model trained to "
                "answer from retrieved passages) is the strongest option — but set up Level 3 "
                "first and measure it: RAFT must beat it to be worth the training."
            )
        else:
            level = 3
            reasons.append(
                "Answers must come from your documents: give the model a knowledge base (RAG) so "
                "it reads the relevant passages and cites them. No training is needed, and "
                "documents that change are re-indexed in seconds."
            )
            if a.high_stakes:
                reasons.append(
                    "High stakes: check retrieval recall on an evaluation set with reference "
                    "documents — wrong passages doom the best model."
                )
    elif not a.general_knowledge and a.stable_domain and enough:
        level = 4
        reasons.append(
            f"The model lacks the domain and you have {a.labelled_examples} examples of a stable "
            "domain: a LoRA adapter can teach its terms and style. Measure Level 2 first as the "
            "baseline the adapter must beat."
        )
    elif a.specific_format or not a.general_knowledge or a.labelled_examples:
        level = 2
        reasons.append(
            "A few worked examples in the prompt (Level 2) teach format, style and domain "
            "nuance at the cost of a few more tokens."
        )
        if not a.general_knowledge and not enough:
            reasons.append(
                f"Fine-tuning needs about {t.min_finetune_examples}+ examples to avoid "
                f"overfitting; you have {a.labelled_examples}. Collect more before Level 4."
            )
        if not a.stable_domain:
            reasons.append("The domain changes: prefer prompts and documents to training.")
    else:
        level = 1
        reasons.append(
            "The model already knows enough and no special format is needed: clear instructions "
            "(Level 1) cost nothing extra. Measure it on an evaluation set before adding rungs."
        )
    return Advice(level, f"Start at Level {level} ({LEVEL_NAMES[level]}).", reasons)


def from_scoreboard(
    rows: list[dict], thresholds: Thresholds | None = None, examples_available: int = 0
) -> Advice | None:
    """What the measured numbers say: for each configuration above the lowest rung, whether its
    gain over the best lower rung is worth its latency. None without two measured rungs."""
    t = thresholds or Thresholds()
    key = t.metric
    rated = [r for r in rows if key in r["metrics"] and r["n"]]
    if len(rated) < 2:
        return None
    label = {
        "f1": "F1",
        "em": "exact match",
        "contains": "answer-contains",
        "judge": "judge score",
        "regex": "regex match",
    }.get(key, key)

    def q(r):
        return r["metrics"][key]["value"]

    def lat(r):
        return r["metrics"].get("latency_s", {}).get("value") or 0.0

    reasons = []
    rated.sort(key=lambda r: r["level"])
    keep = rated[0]
    for row in rated[1:]:
        if row["level"] == keep["level"] and q(row) <= q(keep):
            continue
        gain = q(row) - q(keep)
        ratio = lat(row) / lat(keep) if lat(keep) else float("inf")
        significant = row["metrics"][key].get("low", q(row)) > keep["metrics"][key].get(
            "high", q(keep)
        )
        if abs(gain) < 0.005:
            change = f"left {label} unchanged at {q(row):.2f}"
        else:
            verb = "raised" if gain > 0 else "lowered"
            change = f"{verb} {label} from {q(keep):.2f} to {q(row):.2f}"
        who = config_name(row["assistant"], row["version"])
        what = f"Level {row['level']} ({who}) {change} at {ratio:.1f}× the latency"
        if gain >= t.min_gain and ratio <= t.max_latency_ratio:
            sure = "" if significant else " (within the margin of error: add cases to be sure)"
            reasons.append(f"{what}: keep it{sure}.")
            keep = row
        elif gain >= t.min_gain:
            reasons.append(
                f"{what}: better, but over your {t.max_latency_ratio:g}× latency limit — keep it "
                "only if quality matters more than speed."
            )
        else:
            reasons.append(
                f"{what}: not worth it (less than the {t.min_gain:.2f} gain you asked for); "
                f"stay at Level {keep['level']}."
            )
    top = max(r["level"] for r in rated)
    if keep["level"] < 4 and top < 4:
        if examples_available >= t.min_finetune_examples:
            reasons.append(
                f"Level 4 is worth trying: you have {examples_available} examples "
                f"(≥ {t.min_finetune_examples})."
            )
        else:
            reasons.append(
                f"Level 4 is worth trying only with ≥ {t.min_finetune_examples} examples; your "
                f"largest set has {examples_available}."
            )
    headline = (
        f"Use Level {keep['level']} ({LEVEL_NAMES[keep['level']]}): "
        f"{config_name(keep['assistant'], keep['version'])}."
    )
    return Advice(keep["level"], headline, reasons)
