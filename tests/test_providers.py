"""Remote models through any OpenAI-compatible server, with keys only in the OS keyring.

The "remote" is a real OpenAI-compatible HTTP server on 127.0.0.1 (FastAPI + uvicorn, SSE
streaming, OpenAI's error shape) answering with the bundled GGUF through llama.cpp, started in
this process. It is ours rather than llama-cpp-python's own server (which bench/remote.py uses)
because it must also fail on purpose: require a key, answer slowly, or die in the middle of a
reply.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from engine import bundled
from engine.api import DEFAULT_ASSISTANT, Engine, TokenEvent, run
from engine.errors import TailorError
from engine.evaluation.options import RunOptions, Target
from engine.evaluation.sets import Case
from engine.models.remote import CHARS_PER_TOKEN, RemoteModelError
from engine.models.runtime import SamplingParams

MODEL = "smollm2"
SENTINEL = "sk-SENTINEL-7f3a9c41d2b8e605"


# -- the "remote": a real OpenAI-compatible server --------------------------------------------


class LoopbackServer:
    """FastAPI + uvicorn on 127.0.0.1, generating with the bundled model. ``api_key`` makes it
    refuse requests without that bearer key (401); model ``slow`` waits before answering and
    ``dies`` (or any model, for a prompt holding ``BREAK``) breaks the connection after two
    tokens. ``max_in_flight`` is the most chat requests it held at once."""

    def __init__(self):
        import llama_cpp
        import uvicorn

        from engine.models.runtime import _formatter

        self.api_key: str | None = None
        self.requests = 0
        self.keyed_requests = 0  # requests that carried the right key
        self.last_messages: list[dict] = []
        self.last_usage: dict = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.answered = 0  # chat requests answered to the end
        self._llama = llama_cpp.Llama(
            model_path=str(bundled.default_model_path()), n_ctx=2048, verbose=False
        )
        template = self._llama.metadata.get("tokenizer.chat_template", "")
        self._format = _formatter(self._llama, template)
        self._lock = threading.Lock()
        self._counting = threading.Lock()
        app = FastAPI()

        def refusal(request: Request):
            self.requests += 1
            if self.api_key is None:
                return None
            if request.headers.get("authorization") == f"Bearer {self.api_key}":
                self.keyed_requests += 1
                return None
            error = {"message": "Invalid API key.", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=401)

        @app.get("/v1/models")
        async def models(request: Request):
            if refused := refusal(request):
                return refused
            ids = [MODEL, "slow", "dies"]
            return {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            if refused := refusal(request):
                return refused
            body = await request.json()
            if body["model"] == "slow":
                await asyncio.sleep(3)
            self.last_messages = body["messages"]
            rendered = self._format(messages=body["messages"])
            stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop]
            settings = {
                "max_tokens": body.get("max_tokens") or 16,
                "temperature": body.get("temperature", 0.7),
                "top_p": body.get("top_p", 0.95),
                "seed": body.get("seed"),
                "stop": [s for s in stop if s],
            }
            usage = (body.get("stream_options") or {}).get("include_usage")
            model = "dies" if "BREAK" in rendered.prompt else body["model"]
            return StreamingResponse(
                self._events(model, rendered.prompt, settings, usage),
                media_type="text/event-stream",
            )

        self._app = app
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
        )
        self.port = self._server.config.port
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert time.monotonic() < deadline, "the loopback server did not start"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _count(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def _events(self, model: str, prompt: str, settings: dict, include_usage: bool):
        def sse(data: dict) -> str:
            return f"data: {json.dumps(data)}\n\n"

        with self._counting:  # replies run in worker threads
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield from self._answer(model, prompt, settings, include_usage, sse)
            self.answered += 1
        finally:
            with self._counting:
                self.in_flight -= 1  # before the end reaches the client, who may then ask again
        yield "data: [DONE]\n\n"

    def _answer(self, model, prompt, settings, include_usage, sse):
        # The reply is made under the lock, then sent: a client that goes away mid-reply leaves
        # its generator suspended (Starlette never closes it), which must not hold the lock.
        with self._lock:
            chunks = [
                c["choices"][0]
                for c in self._llama.create_completion(prompt, stream=True, **settings)
            ]
            text = "".join(c["text"] for c in chunks)
            usage = {"prompt_tokens": self._count(prompt), "completion_tokens": self._count(text)}
        usage["total_tokens"] = sum(usage.values())
        self.last_usage = usage
        pieces = 0
        for choice in chunks:
            pieces += bool(choice["text"])
            if model == "dies" and pieces == 2:
                raise RuntimeError("the loopback server dies mid-stream (on purpose)")
            delta = {"content": choice["text"]} if choice["text"] else {}
            finish = choice["finish_reason"]
            yield sse(
                {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )
        if include_usage:
            yield sse(
                {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._llama.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    s = LoopbackServer()
    yield s
    s.close()


@pytest.fixture
def loopback(server):
    """The server, open to requests without a key unless a test sets one."""
    server.api_key = None
    yield server
    server.api_key = None


def remote_assistant(engine: Engine, name: str, model: str, **changes) -> None:
    config = engine.get_assistant(DEFAULT_ASSISTANT).config
    engine.create_assistant(name, config.model_copy(update={"model": model, **changes}))


# -- providers and keys ------------------------------------------------------------------------


def test_add_list_and_remove_a_provider_keeps_the_key_in_the_keyring(engine, memory_keyring):
    provider = engine.add_provider("Corp vLLM", "https://llm.example.com/v1", SENTINEL)
    assert memory_keyring.passwords == {("Tailor", "provider:Corp vLLM"): SENTINEL}
    assert provider.key_source == "keyring" and provider.host == "llm.example.com"
    assert [p.name for p in engine.list_providers()] == ["Corp vLLM"]
    assert SENTINEL not in repr(engine.list_providers())
    assert engine.is_remote_model("Corp vLLM/llama-3-8b")
    assert not engine.is_remote_model("smollm2-135m-instruct")
    assert engine.model_host("Corp vLLM/llama-3-8b") == "llm.example.com"
    assert engine.model_host("smollm2-135m-instruct") is None
    with pytest.raises(TailorError, match="already exists"):
        engine.add_provider("Corp vLLM", "https://other.example.com")
    engine.remove_provider("Corp vLLM")
    assert engine.list_providers() == [] and memory_keyring.passwords == {}
    assert not engine.is_remote_model("Corp vLLM/llama-3-8b")


def test_bad_addresses_are_refused(engine, memory_keyring):
    with pytest.raises(TailorError, match="not a server address"):
        engine.add_provider("x", "llm.example.com")
    with pytest.raises(TailorError, match="without it"):
        engine.add_provider("x", "https://user:secret@llm.example.com/v1")
    with pytest.raises(TailorError, match="cannot contain '/'"):
        engine.add_provider("a/b", "https://llm.example.com/v1")
    assert engine.add_provider("x", "http://127.0.0.1:9/").base_url == "http://127.0.0.1:9/v1"


def test_without_a_keyring_a_key_is_refused_and_the_environment_is_the_way(
    engine, no_keyring, loopback, monkeypatch
):
    with pytest.raises(TailorError) as refused:
        engine.add_provider("corp", loopback.url, SENTINEL)
    message = str(refused.value)
    assert "No OS keyring" in message and "TAILOR_KEY_CORP" in message
    assert SENTINEL not in message
    assert engine.list_providers() == []  # nothing half-added
    # The headless way: the key in the environment, read when the provider is used.
    loopback.api_key = SENTINEL
    monkeypatch.setenv("TAILOR_KEY_CORP", SENTINEL)
    assert engine.add_provider("corp", loopback.url).key_source == "env"
    keyed = loopback.keyed_requests
    assert engine.provider_models("corp")[0].name == "corp/dies"
    assert loopback.keyed_requests == keyed + 1


# -- generation --------------------------------------------------------------------------------


def test_level_1_chat_through_a_remote_model_streams_with_real_token_counts(
    engine, memory_keyring, loopback, no_network
):
    loopback.api_key = SENTINEL
    engine.add_provider("loopback", loopback.url, SENTINEL)
    assert {m.name for m in engine.provider_models("loopback")} == {
        "loopback/smollm2",
        "loopback/slow",
        "loopback/dies",
    }
    assert all(m.remote for m in engine.list_remote_models())
    remote_assistant(engine, "Remote", "loopback/smollm2", max_tokens=8)
    conversation = engine.create_conversation("Remote")
    events = list(engine.chat("Say hello.", assistant="Remote", conversation_id=conversation.id))
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    reply = events[-1].result
    assert events[-1].status == "done" and tokens and reply.text
    assert "".join(t.text for t in tokens) == reply.text
    assert reply.stats.prompt_tokens == loopback.last_usage["prompt_tokens"]
    assert reply.stats.completion_tokens == loopback.last_usage["completion_tokens"]
    assert [m.role for m in engine.conversation_messages(conversation.id)] == [
        "user",
        "assistant",
    ]
    assert no_network == []  # loopback only


def test_level_3_retrieves_locally_and_sends_only_the_prompt_with_its_passages(
    engine, loopback, tmp_path, no_network
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Boiler\n\nThe boiler in room 12 is serviced every March.\n")
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [docs])
    run(engine.index("docs"))
    engine.add_provider("loopback", loopback.url, context_size=1024)
    remote_assistant(engine, "Docs", "loopback/smollm2", knowledge_base="docs", max_tokens=8)
    reply = run(engine.chat("When is the boiler serviced?", assistant="Docs"))
    assert reply.sources and reply.sources[0]["source"].endswith("a.md")
    sent = json.dumps(loopback.last_messages)
    assert "serviced every March" in sent  # the passage went out inside the prompt
    assert str(docs) not in sent  # the folder did not
    # No reply start: a remote API answers the conversation, it does not continue a reply.
    assert loopback.last_messages[-1]["role"] == "user"
    assert not reply.text.startswith(engine.knowledge_base_config("docs").reply_start)
    assert no_network == []


def test_the_writer_and_judge_path_generates_through_a_remote_model(engine, loopback):
    engine.add_provider("loopback", loopback.url)
    generation = engine.services.generation
    reply = generation.generate(
        "loopback/smollm2",
        [{"role": "user", "content": "Write one question about lamps."}],
        SamplingParams(max_tokens=8, temperature=0.0, seed=1),
    )
    assert reply.text and reply.stats.completion_tokens == loopback.last_usage["completion_tokens"]
    count = engine.count_tokens("loopback/smollm2")
    assert count("x" * 30) == 30 // CHARS_PER_TOKEN  # an estimate: the tokenizer is remote
    with pytest.raises(TailorError, match="only with local models"):
        generation.load("loopback/smollm2", "some-adapter")


def test_local_use_never_contacts_a_provider(engine, loopback, no_network):
    engine.add_provider("loopback", loopback.url)
    before = loopback.requests
    engine.edit_assistant(DEFAULT_ASSISTANT, max_tokens=8)
    assert run(engine.chat("Hi", assistant=DEFAULT_ASSISTANT)).text
    assert loopback.requests == before and no_network == []


# -- failures: a clear message, nothing lost --------------------------------------------------


def test_unreachable_host_saves_nothing_of_the_exchange(engine):
    port = free_port()  # nothing listens there
    engine.add_provider("gone", f"http://127.0.0.1:{port}/v1")
    remote_assistant(engine, "Gone", "gone/m", max_tokens=8)
    conversation = engine.create_conversation("Gone")
    with pytest.raises(RemoteModelError, match=f"Could not reach 127.0.0.1:{port}"):
        run(engine.chat("Hi", assistant="Gone", conversation_id=conversation.id))
    assert engine.conversation_messages(conversation.id) == []
    with pytest.raises(RemoteModelError, match="Could not reach"):
        engine.provider_models("gone")


def test_a_server_wanting_a_key_answers_401_with_a_clear_message(engine, memory_keyring, loopback):
    loopback.api_key = "the-right-key"
    engine.add_provider("keyless", loopback.url)
    with pytest.raises(RemoteModelError, match="no API key was given"):
        engine.provider_models("keyless")
    engine.add_provider("wrong", loopback.url, SENTINEL)
    with pytest.raises(RemoteModelError, match=r"refused the API key it was given \(401") as e:
        run(engine.chat("Hi", model="wrong/smollm2"))
    assert SENTINEL not in str(e.value)


def test_a_timeout_and_a_server_dying_mid_stream_lose_nothing(engine, loopback):
    engine.add_provider("loopback", loopback.url, timeout_s=1)
    conversation = engine.create_conversation(None)
    with pytest.raises(RemoteModelError, match="did not answer within 1 seconds"):
        run(engine.chat("Hi", model="loopback/slow", conversation_id=conversation.id))
    with pytest.raises(RemoteModelError, match="broke off in the middle of the reply"):
        run(engine.chat("Hi", model="loopback/dies", conversation_id=conversation.id))
    assert engine.conversation_messages(conversation.id) == []


def test_an_evaluation_run_with_an_unreachable_remote_resumes_once_it_is_back(engine, loopback):
    engine.add_provider("lab", f"http://127.0.0.1:{free_port()}/v1")
    remote_assistant(engine, "Lab", "lab/smollm2")
    engine.save_eval_set("facts", [Case("1", "Capital of France?", ("Paris",))])
    options = RunOptions(max_tokens=8, temperature=0.0)
    run_id = engine.create_eval_run("facts", [Target("Lab")], options)
    with pytest.raises(RemoteModelError, match="Could not reach"):
        run(engine.evaluate(run_id))
    record = engine.get_eval_run(run_id)
    assert record["status"] == "failed" and record["results"] == 0  # the case is left undone
    engine.remove_provider("lab")
    engine.add_provider("lab", loopback.url)
    assert run(engine.evaluate(run_id))["status"] == "done"
    assert engine.get_eval_run(run_id)["results"] == 1


def test_a_remote_run_sends_the_providers_concurrency_at_once_and_prices_each_answer(
    engine, loopback
):
    engine.add_provider("lab", loopback.url, concurrency=3, price_in=2.0, price_out=8.0)
    remote_assistant(engine, "Lab", "lab/smollm2")
    engine.save_eval_set(
        "sums", [Case(str(i), f"What is {i} plus {i}?", (str(2 * i),)) for i in range(7)]
    )
    options = RunOptions(max_tokens=6, temperature=0.0, judge_model="lab/smollm2")
    loopback.max_in_flight = 0
    run_id = engine.create_eval_run("sums", [Target("Lab")], options)
    assert run(engine.evaluate(run_id))["status"] == "done"
    assert loopback.max_in_flight == 3  # answering, then judging, three at a time
    results = engine.eval_results(run_id)
    assert sorted(r["case"] for r in results) == [str(i) for i in range(7)]
    assert all(r["judge_reply"] is not None for r in results)  # each was judged
    for r in results:
        stats = r["stats"]
        assert stats["tokens_in"] > 10 and stats["tokens_out"] > 0  # the server's usage counts
        expected = (stats["tokens_in"] * 2.0 + stats["tokens_out"] * 8.0) / 1e6
        assert stats["api_cost"] == pytest.approx(expected)
    row = engine.scoreboard(run_id)[0]
    costs = sorted(r["stats"]["api_cost"] for r in results)
    assert row["metrics"]["api_cost"]["value"] == pytest.approx(costs[3])  # the median

    engine.update_provider("lab", concurrency=1, price_in=None, price_out=None)
    loopback.max_in_flight = 0
    run_id = engine.create_eval_run("sums", [Target("Lab")], options)
    assert run(engine.evaluate(run_id))["status"] == "done"
    assert loopback.max_in_flight == 1
    assert all("api_cost" not in r["stats"] for r in engine.eval_results(run_id))


def test_a_failure_in_a_concurrent_run_keeps_every_answer_that_came_back(engine, loopback):
    engine.add_provider("lab", loopback.url, concurrency=3)
    remote_assistant(engine, "Lab", "lab/smollm2")
    questions = [f"Name a colour, please ({i})." for i in range(8)]
    questions[2] = "BREAK: this request dies in the middle of its reply."
    engine.save_eval_set("colours", [Case(str(i), q, ("red",)) for i, q in enumerate(questions)])
    run_id = engine.create_eval_run("colours", [Target("Lab")], RunOptions(max_tokens=6))
    before, sent = loopback.answered, loopback.requests
    with pytest.raises(RemoteModelError, match="broke off in the middle of the reply"):
        run(engine.evaluate(run_id))
    record = engine.get_eval_run(run_id)
    answered = loopback.answered - before
    # Every reply the server finished is written; after the failure no case is sent.
    assert record["status"] == "failed" and record["results"] == answered >= 1
    assert "2" not in {r["case"] for r in engine.eval_results(run_id)}
    assert loopback.requests - sent < 8


def test_provider_settings_are_checked_and_changed_without_asking_the_host(
    engine, loopback, monkeypatch
):
    with pytest.raises(TailorError, match="between 1 and 64"):
        engine.add_provider("lab", loopback.url, concurrency=0)
    with pytest.raises(TailorError, match="cannot be negative"):
        engine.add_provider("lab", loopback.url, price_in=-1.0)
    engine.add_provider("lab", loopback.url)
    requests = loopback.requests
    monkeypatch.setattr("engine.cli.providers.engine_of", lambda ctx: engine)
    from engine.cli import cli

    def tailor(*args):
        return CliRunner().invoke(cli, ["providers", *args])

    changed = tailor("set", "lab", "--concurrency", "8", "--price-in", "0.15", "--price-out", "0.6")
    assert changed.exit_code == 0, changed.output
    assert "8 at once, $0.15 / $0.6 per 1M tokens in / out" in changed.output
    provider = engine.get_provider("lab")
    assert (provider.concurrency, provider.price_in, provider.price_out) == (8, 0.15, 0.6)
    refused = tailor("set", "lab", "--concurrency", "99")
    assert isinstance(refused.exception, TailorError)  # `tailor` prints it as one line
    assert "between 1 and 64" in str(refused.exception)
    assert "no prices" in tailor("set", "lab", "--no-prices").output
    assert "1 at once" in tailor("set", "lab", "--concurrency", "1").output
    assert "ctx 8192, 1 at once, no prices" in tailor("list").output
    assert loopback.requests == requests


# -- the key never lands anywhere ----------------------------------------------------------


def test_a_sentinel_key_appears_in_no_file_log_or_output_after_a_session(
    engine, home, memory_keyring, loopback, caplog, capfd, monkeypatch
):
    caplog.set_level("DEBUG")
    loopback.api_key = SENTINEL
    monkeypatch.setenv("TAILOR_HOME", str(home))
    monkeypatch.setattr("engine.cli.providers.engine_of", lambda ctx: engine)
    monkeypatch.setattr("engine.cli.assistants.engine_of", lambda ctx: engine)
    from engine.cli import cli

    runner = CliRunner()
    added = runner.invoke(
        cli, ["providers", "add", "loopback", loopback.url, "--key"], input=SENTINEL + "\n"
    )
    assert added.exit_code == 0, added.output
    assert memory_keyring.passwords[("Tailor", "provider:loopback")] == SENTINEL
    listed = runner.invoke(cli, ["providers", "models", "loopback"])
    assert f"Asking 127.0.0.1:{loopback.port}" in listed.output  # says which host
    assert "loopback/smollm2  (remote" in listed.output
    remote_assistant(engine, "Remote", "loopback/smollm2", max_tokens=8)
    chatted = runner.invoke(cli, ["chat", "-a", "Remote", "Hello"])
    assert chatted.exit_code == 0, chatted.output
    assert f"Asking 127.0.0.1:{loopback.port}" in chatted.output  # says which host
    conversation = engine.create_conversation("Remote")
    run(engine.chat("Hello", assistant="Remote", conversation_id=conversation.id))
    engine.save_eval_set("facts", [Case("1", "Capital of France?", ("Paris",))])
    options = RunOptions(max_tokens=8, judge_model="loopback/smollm2")
    run_id = engine.create_eval_run("facts", [Target("Remote")], options)
    assert engine.eval_run_hosts(run_id) == [f"127.0.0.1:{loopback.port}"]  # said before a run
    assert run(engine.evaluate(run_id))["status"] == "done"
    loopback.api_key = "another-key"  # a refusal's message and log, too
    with pytest.raises(RemoteModelError) as refused:
        run(engine.chat("Hello", assistant="Remote"))
    keyed = loopback.keyed_requests
    assert keyed >= 4  # models, chat, answer, judge: the key did go out, to the server only

    leaks = [str(p) for p in home.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]
    out, err = capfd.readouterr()
    outputs = [
        added.output,
        listed.output,
        chatted.output,
        out,
        err,
        caplog.text,
        str(refused.value),
        repr(engine.list_providers()),
    ]
    assert leaks == []
    assert not [o for o in outputs if SENTINEL in o]
    # The scan can find it: the same key written into the workspace is caught.
    (home / "planted.txt").write_text(SENTINEL)
    assert [p for p in home.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]


def test_the_key_is_never_a_command_line_value(home):
    from engine.cli import cli

    help_text = CliRunner().invoke(cli, ["providers", "add", "--help"]).output
    assert "--key-from-env VAR" in help_text
    refused = CliRunner().invoke(cli, ["providers", "add", "p", "http://h/v1", "--key", SENTINEL])
    assert refused.exit_code != 0  # --key takes no value: the extra argument is refused


def test_the_model_list_marks_remote_models_and_asks_only_when_told(engine, loopback, qtbot):
    from desktop.pages.models import ModelsPage

    page = ModelsPage(engine)
    qtbot.addWidget(page)
    assert not page.remote_button.isEnabled()  # no provider: nothing to ask
    engine.add_provider("loopback", loopback.url)
    page.refresh()
    before = loopback.requests
    assert page.table.rowCount() == 1 and loopback.requests == before  # not asked yet
    page.remote_button.click()
    qtbot.waitUntil(lambda: page._remote_job is None, timeout=30_000)
    names = [page.table.item(r, 0).text() for r in range(page.table.rowCount())]
    assert "loopback/smollm2  (remote)" in names and loopback.requests == before + 1
    page.table.selectRow(names.index("loopback/smollm2  (remote)"))
    assert f"127.0.0.1:{loopback.port}" in page.details.text()
    assert not page.remove_button.isEnabled()
