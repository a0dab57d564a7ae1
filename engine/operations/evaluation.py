"""The evaluation operations of :class:`engine.api.Engine`: evaluation sets, runs against
assistants (or ad-hoc configurations, such as the Level 3/4/5 comparison's), their results, the
advisor's reading of them, and questions written by a model about a knowledge base."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

from engine import bundled
from engine.evaluation.advisor import Advice, Thresholds, from_scoreboard
from engine.evaluation.ladder import ladder_targets
from engine.evaluation.options import RunOptions, Target
from engine.evaluation.sets import Case, SetVersion
from engine.events import CancelToken, Progress, operation
from engine.services import Services
from engine.synthetic import Drafts
from engine.synthetic import write_questions as write_drafts


class EvaluationOperations:
    services: Services

    # -- evaluation sets ---------------------------------------------------------------------

    def list_eval_sets(self) -> list[str]:
        """The evaluation sets' names."""
        return self.services.eval_sets.names()

    def eval_set_summary(self) -> list[dict]:
        """Each set's name, current version, its note and number of cases, by name."""
        return self.services.eval_sets.summary()

    def get_eval_set(self, name: str, version: int | None = None) -> SetVersion:
        """A version of a set with its cases (the current one by default)."""
        return self.services.eval_sets.get(name, version)

    def save_eval_set(self, name: str, cases: list[Case], note: str = "") -> SetVersion:
        """Create set ``name`` or add its next version, holding exactly ``cases``."""
        return self.services.eval_sets.save(name, cases, note)

    def import_eval_set(self, path: Path, name: str) -> SetVersion:
        """A new set from a JSONL, CSV or SQuAD JSON file, or the next version of an existing
        one with the file's cases added (cases whose id already exists are replaced)."""
        return self.services.eval_sets.import_file(name, path)

    def eval_set_from_examples(self, name: str, example_set: str) -> SetVersion:
        """Set ``name`` from an example set: each example's output is the reference."""
        examples = self.services.examples.get(example_set)
        return self.services.eval_sets.from_examples(name, examples)

    def eval_set_from_dataset(self, name: str, dataset: str, fraction: float = 0.1) -> SetVersion:
        """Set ``name`` from the held-out part of a fine-tuning dataset: the rows training with
        the same validation fraction does not see."""
        rows = self.services.datasets.get(dataset)
        return self.services.eval_sets.from_dataset(name, rows, fraction)

    def delete_eval_set(self, name: str) -> None:
        """Delete a set, all its versions and its runs."""
        self.services.eval_sets.delete(name)

    # -- runs --------------------------------------------------------------------------------

    def list_eval_runs(self) -> list[dict]:
        """The runs, newest first: set, status, the configurations' labels and progress."""
        return self.services.evals.list()

    def get_eval_run(self, run_id: int) -> dict:
        """One run as :meth:`list_eval_runs` gives it, with its options."""
        return self.services.evals.get(run_id)

    def eval_run_hosts(self, run_id: int) -> list[str]:
        """The hosts run ``run_id`` sends prompts to — its remote models and judge — in order,
        each once; empty when the run stays on this machine."""
        run = self.services.evals.get(run_id)
        models = [c["config"].model for c in self.services.evals.configs(run_id)]
        models += [run["options"].judge_model] if run["options"].judge_model else []
        hosts = [self.model_host(m) for m in models]
        return list(dict.fromkeys(h for h in hosts if h))

    def create_eval_run(
        self,
        set_name: str,
        targets: list[Target],
        options: RunOptions | None = None,
        set_version: int | None = None,
    ) -> int:
        """Record a run of a set (its current version by default) against ``targets``; run it
        with :meth:`evaluate`. Returns its number."""
        return self.services.evals.create(set_name, targets, options, set_version)

    def evaluate(self, run_id: int, *, cancel: CancelToken | None = None) -> Iterator[object]:
        """Do what run ``run_id`` has not done yet (a stopped or failed run resumes): Progress
        ("answering", "judging") with each case's scores as its ``detail``, then the Outcome
        with the run's record. Stopped, the run keeps what it finished."""
        return self.services.evals.evaluate(run_id, cancel=cancel)

    def eval_results(self, run_id: int) -> list[dict]:
        """Every stored result of a run: configuration, case, response, prompt, scores."""
        return self.services.evals.results(run_id)

    def eval_per_case(self, run_id: int, metric: str = "f1") -> list[dict]:
        """Each case with every configuration's score and response, and whether it helped or
        hurt against the first configuration."""
        return self.services.evals.per_case(run_id, metric)

    def delete_eval_run(self, run_id: int) -> None:
        self.services.evals.delete(run_id)

    def scoreboard(self, run_id: int) -> list[dict]:
        """One row per configuration of a run: its label and level, each metric's mean with a
        95% interval (or median, for speed)."""
        return self.services.evals.scoreboard(run_id)

    def compare_runs(self, run_a: int, run_b: int) -> list[dict]:
        """``run_b``'s scoreboard rows, each with its match in ``run_a`` and the change in
        every metric both have."""
        return self.services.evals.compare(run_a, run_b)

    def eval_advice(self, rows: list[dict], thresholds: Thresholds | None = None) -> Advice | None:
        """What a scoreboard's numbers say about climbing the ladder, knowing how many
        labelled examples the largest example set holds. None without two measured rungs."""
        examples = max(self.services.examples.counts().values(), default=0)
        return from_scoreboard(rows, thresholds, examples)

    def compare_ladder(
        self,
        eval_set: str,
        *,
        model: str,
        knowledge_base: str | None = None,
        raft_adapter: str | None = None,
        plain_adapter: str | None = None,
        retrieval_ks: tuple[int, ...] = (2, 5, 10),
        max_tokens: int = 256,
    ) -> int:
        """A run of ``eval_set`` comparing the rungs, labelled on the scoreboard: Level 3
        "base + RAG" (``model`` with ``knowledge_base``) and Level 5 "RAFT + RAG"
        (``raft_adapter`` with it) at each k of ``retrieval_ks``, Level 4 "fine-tuned, no
        documents" (``plain_adapter``). The configurations are ad-hoc: no assistant is made.
        Returns the run's number; run it with :meth:`evaluate`."""
        targets = ladder_targets(
            self.services.adapters,
            self.services.generation,
            model=model,
            knowledge_base=knowledge_base,
            raft_adapter=raft_adapter,
            plain_adapter=plain_adapter,
            retrieval_ks=retrieval_ks,
            max_tokens=max_tokens,
        )
        options = RunOptions(temperature=0.0, max_tokens=max_tokens)
        return self.services.evals.create(eval_set, targets, options)

    # -- generated questions -----------------------------------------------------------------

    @operation
    def write_questions(
        self,
        knowledge_base: str,
        count: int = 20,
        *,
        model: str | None = None,
        per_passage: int = 1,
        seed: int = 0,
        cancel: CancelToken | None = None,
    ) -> Generator[Progress, None, Drafts]:
        """Draft questions about ``count`` passages sampled from ``knowledge_base`` (the same
        ones for the same ``seed``), written by ``model`` (the bundled one by default), for a
        person to review: Progress ("writing") with the drafts so far as its ``detail``, then
        the Outcome with all of them (those finished, when stopped)."""
        passages = self.services.knowledge.sample(knowledge_base, count, seed)
        return (
            yield from write_drafts(
                self.services.generation,
                passages,
                model or bundled.DEFAULT_MODEL_NAME,
                per_passage,
                cancel,
                seed,
            )
        )
