"""Evaluation runs: one set version against one or more configurations (assistants' versions,
or ad-hoc configurations such as the Level 3/4/5 comparison's).

Every (configuration, case) result is written as soon as it is finished, with the exact prompt,
the passages the answer used, the documents retrieval ranked, the response, the scores and the
timings, so a run that is cancelled, crashes or is killed resumes with the cases it had not
done. Answers come first, configuration by configuration (one model load each); a judge, if
chosen, scores them afterwards in a second pass (one more model load). Reading the results back
is :mod:`engine.evaluation.results`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Generator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from engine.assistants import AssistantConfig, Assistants
from engine.chat import Chat
from engine.embeddings import Embedder
from engine.errors import ModelUnavailable, NotFound, TailorError
from engine.evaluation import judge as judge_mod
from engine.evaluation import metrics as m
from engine.evaluation.options import RunOptions, Target
from engine.evaluation.results import JUDGED, RunResults
from engine.evaluation.sets import Case, EvalSets
from engine.events import Outcome, Progress, operation
from engine.knowledge.bases import KnowledgeBases
from engine.models.generation import Generation
from engine.models.library import ModelLibrary
from engine.models.runtime import CancelToken, Reply, SamplingParams, TokenEvent
from engine.raft.format import ANSWER_TAG, final_answer
from engine.workspace import Workspace

STOPPED = "Cancelled; resume to finish."
STARTED = object()  # :func:`_at_once`'s mark for "this item is being worked on now"


@dataclass(frozen=True)
class RunStep:
    """An evaluation's :class:`Progress` detail: the run, the configuration at work, and the
    scores of the case it finished last (empty while it is loading or answering)."""

    run_id: int
    target: str
    case: str = ""
    scores: dict = field(default_factory=dict)
    elapsed_s: float = 0.0


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


class EvalRuns(RunResults):
    """Creates runs and does them; answers through :class:`Chat`, judges with the loaded
    model."""

    def __init__(
        self,
        workspace: Workspace,
        sets: EvalSets,
        assistants: Assistants,
        models: ModelLibrary,
        knowledge: KnowledgeBases,
        embedder: Embedder,
        chat: Chat,
        generation: Generation,
    ):
        super().__init__(workspace)
        self.sets = sets
        self._assistants = assistants
        self._models = models
        self._knowledge = knowledge
        self._embedder = embedder
        self._chat = chat
        self._generation = generation

    # -- creating ----------------------------------------------------------------------------

    def create(
        self,
        set_name: str,
        targets: list[Target],
        options: RunOptions | None = None,
        set_version: int | None = None,
    ) -> int:
        """Record a run: the set version and a snapshot of each target's configuration (an
        ad-hoc target's as given, under its label)."""
        options = options or RunOptions()
        if not targets:
            raise TailorError("Choose at least one assistant to evaluate.")
        if options.judge_model:
            self._models.get(options.judge_model)
            if why := judge_mod.check_prompt(options.judge_prompt):
                raise TailorError(why)
        version = self.sets.get(set_name, set_version)
        snapshots = []
        for t in targets:
            if t.config is not None:
                level = t.config.level_for(self._assistants.adapter_kind(t.config))
                snapshots.append((t.assistant, None, level, t.config.model_dump_json()))
                continue
            ver = self._assistants.get(t.assistant, t.version)
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

    # -- running -----------------------------------------------------------------------------

    @operation
    def evaluate(
        self, run_id: int, *, cancel: CancelToken | None = None
    ) -> Generator[Progress, None, dict]:
        """Do whatever the run has not done yet: :class:`Progress` ("answering", then
        "judging") before and after every case, then the ``Outcome`` with the run's record
        (:meth:`get`). A stop leaves the run "stopped", to resume; a failure leaves it
        "failed" with the message, and what was finished is kept either way."""
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

        def progress(phase, target, label, case="", scores=None):
            elapsed = time.perf_counter() - start
            eta = elapsed / fresh * (total - count) if fresh else None
            step = RunStep(run_id, target, case, scores or {}, elapsed)
            return Progress(phase, count, total, eta, label, step)

        try:
            for cfg in configs:
                config = self._with_options(cfg["config"], options)
                pending = [c for c in cases if c.key not in done[cfg["id"]]]
                if not pending:
                    continue
                if cancel is not None and cancel.cancelled:
                    return self._stopped(run_id)
                # Load before timing: latency is per query, not per load.
                yield progress(
                    "answering", cfg["label"], f"{cfg['label']} · loading {config.model}"
                )
                self._warm_up(config)
                for case, result in self._answers(config, pending, options, cancel):
                    label = f"{cfg['label']} · case {case.key}"
                    if result is STARTED:
                        yield progress("answering", cfg["label"], label)
                        continue
                    if result is None:  # cancelled mid-answer: not recorded, redone on resume
                        return self._stopped(run_id)
                    self._store(cfg["id"], case_ids[case.key], result)
                    count += 1
                    fresh += 1
                    yield progress("answering", cfg["label"], label, case.key, result["scores"])
            if judging:
                judge = "Judge " + str(options.judge_model)
                for key, scores in self._judge_all(run_id, options, cases, cancel):
                    if scores is None:
                        return self._stopped(run_id)
                    count += 1
                    fresh += 1
                    yield progress("judging", judge, f"{judge} · case {key}", key, scores)
        except BaseException as exc:
            self._set_status(run_id, "failed", str(exc) or type(exc).__name__)
            raise
        self._set_status(run_id, "done")
        return self.get(run_id)

    def _stopped(self, run_id: int) -> dict:
        self._set_status(run_id, "stopped", STOPPED)
        return self.get(run_id)

    @staticmethod
    def _with_options(config: AssistantConfig, options: RunOptions) -> AssistantConfig:
        overrides = {
            k: v
            for k, v in (("max_tokens", options.max_tokens), ("temperature", options.temperature))
            if v is not None
        }
        return config.model_copy(update=overrides)

    def _warm_up(self, config: AssistantConfig) -> None:
        self._generation.load(config.model, config.adapter)
        if config.knowledge_base:
            self._knowledge.search(config.knowledge_base, "warm-up", 1)
        elif config.example_set and config.few_shot_k:
            self._embedder.encode(["warm-up"])

    def _answers(self, config: AssistantConfig, cases: list[Case], options: RunOptions, cancel):
        """``(case, STARTED)`` as a case begins and ``(case, result)`` when it is answered, or
        ``(case, None)`` when it was stopped (see :func:`_at_once`)."""
        return _at_once(
            lambda case, stop: self._answer(config, case, options, stop),
            cases,
            self._workers(config.model),
            cancel,
        )

    def _workers(self, model: str) -> int:
        """How many requests at once: a remote model's provider says; a local model answers
        one at a time."""
        handle = self._generation.remote(model)
        return handle.provider.concurrency if handle else 1

    def _reply(self, config, case: Case, options: RunOptions, cancel, t0: float):
        """The chat's reply to ``case`` (None when it was stopped), the time to its first
        token, and the error that kept it from being written."""
        reply: Reply | None = None
        first = None
        error = ""
        for event in self._chat.answer(case.input, config, cancel=cancel, seed=options.seed):
            if isinstance(event, Outcome):
                if event.status == "failed":
                    # A swap the engine could not ride out says nothing about the answer: the
                    # case is left undone (the run fails with the message) and a resume answers
                    # it. Other refusals (e.g. this case's prompt does not fit the context)
                    # are this case's error.
                    if isinstance(event.error, (NotFound, ModelUnavailable)) or not isinstance(
                        event.error, TailorError
                    ):
                        raise event.error
                    error = str(event.error)
                reply = event.result
            elif first is None and isinstance(event, TokenEvent):
                first = time.perf_counter() - t0
        return reply, first, error

    def _answer(self, config, case: Case, options: RunOptions, cancel) -> dict | None:
        cpu0, t0 = time.process_time(), time.perf_counter()
        reply, first, error = self._reply(config, case, options, cancel, t0)
        latency = time.perf_counter() - t0
        if (reply is None and not error) or (reply and reply.stats.stop_reason == "cancelled"):
            return None
        ranking = None
        if config.knowledge_base and case.sources:
            hits = self._knowledge.search(
                config.knowledge_base, case.input, options.retrieval_depth * 3
            )
            ranking = m.document_ranking([h.source for h in hits])[: options.retrieval_depth]
        response = reply.text if reply else ""
        # A RAFT reply cut off before its <ANSWER>: has given no answer (its quotes are not one).
        unanswered = self._chat.is_raft(config) and ANSWER_TAG not in response
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
        handle = self._generation.remote(config.model)
        if handle and (cost := handle.provider.cost(tokens_in, tokens_out)) is not None:
            speed["api_cost"] = cost  # the provider's own prices, on the server's token counts
        elif options.price_per_1k_tokens is not None:
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
        """Score every result the judge has not seen; yields each case's key and its judge
        score, or ``(key, None)`` when stopped."""
        by_key = {c.key: c for c in cases}
        rows = self.ws.db.execute(
            "SELECT r.rowid, r.response, r.scores, c.case_key FROM eval_results r "
            "JOIN eval_run_configs rc ON rc.id = r.run_config_id "
            "JOIN eval_cases c ON c.id = r.case_id WHERE rc.run_id = ? ORDER BY r.rowid",
            (run_id,),
        ).fetchall()
        pending = [r for r in rows if not JUDGED & json.loads(r["scores"]).keys()]

        def judge(row, stop):
            case = by_key[row["case_key"]]
            prompt = judge_mod.render(
                options.judge_prompt, case.input, case.references, row["response"], options.rubric
            )
            reply = self._generation.generate(
                options.judge_model,
                [{"role": "user", "content": prompt}],
                SamplingParams(temperature=0.0, max_tokens=32, seed=options.seed),
                stop,
            )
            return None if reply.stats.stop_reason == "cancelled" else reply

        workers = self._workers(options.judge_model)
        for row, reply in _at_once(judge, pending, workers, cancel):
            if reply is STARTED:
                continue
            if reply is None:
                yield row["case_key"], None
                return
            scores = json.loads(row["scores"])
            score = judge_mod.parse_score(reply.text)
            if score is None:
                scores["judge_unparsed"] = 1.0
            else:
                scores["judge"] = score
            scores_json = json.dumps(scores | {"judge_reply": reply.text[:500]})
            self.ws.db.execute(
                "UPDATE eval_results SET scores = ? WHERE rowid = ?", (scores_json, row["rowid"])
            )
            yield row["case_key"], {"judge": score}

    # -- storing -----------------------------------------------------------------------------

    def _case_ids(self, version_id: int) -> dict[str, int]:
        return {
            r["case_key"]: r["id"]
            for r in self.ws.db.execute(
                "SELECT id, case_key FROM eval_cases WHERE set_version_id = ?", (version_id,)
            )
        }

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


def _at_once(work, items: list, workers: int, cancel: CancelToken | None):
    """``work(item, cancel)`` for each item: ``(item, STARTED)`` as one begins and
    ``(item, result)`` when it is done, or ``(item, None)`` when it was stopped (``work``
    returns None for a stopped item). With ``workers`` > 1 (a remote model), that many run at
    once and each result is yielded, to be written, as soon as it is back. A stop or a failure
    starts no more; what those already under way bring back is yielded before the stop or the
    error."""
    if workers == 1:
        for item in items:
            if cancel is not None and cancel.cancelled:
                yield item, None
                return
            yield item, STARTED
            yield item, work(item, cancel)
        return
    stop = _Either(cancel)
    queue = iter(items)
    error: BaseException | None = None
    stopped = None
    with ThreadPoolExecutor(workers, thread_name_prefix="tailor-eval") as pool:
        running = {pool.submit(work, item, stop): item for item in itertools.islice(queue, workers)}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                item = running.pop(future)
                try:
                    result = future.result()
                except BaseException as exc:  # no more are started; those out may finish
                    error = error or exc
                    continue
                if result is None:
                    stopped = stopped if stopped is not None else item
                    continue
                try:
                    yield item, result
                except GeneratorExit:  # the run ended early: stop what is still out
                    stop.cancel()
                    raise
                if error is None and stopped is None and not stop.cancelled:
                    for nxt in itertools.islice(queue, 1):
                        running[pool.submit(work, nxt, stop)] = nxt
    if error is not None:
        raise error
    if stopped is not None or stop.cancelled:
        yield (stopped if stopped is not None else items[-1]), None


class _Either(CancelToken):
    """Stops the requests a run has sent at once: on the user's stop, or on the run's own (a
    failure)."""

    def __init__(self, user: CancelToken | None):
        super().__init__()
        self._user = user

    @property
    def cancelled(self) -> bool:
        return super().cancelled or (self._user is not None and self._user.cancelled)
