"""`tailor serve`: the OpenAI-compatible local server, driven by real clients (the official
``openai`` package and plain HTTP through httpx) against a real uvicorn on 127.0.0.1, answering
with the bundled model."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from engine.api import DEFAULT_ASSISTANT, run
from engine.server import ENV_VAR, SERVICE, USERNAME, KeyUnavailable, Server

MODEL = "smollm2-135m-instruct"
TAILOR = str(Path(sys.executable).parent / "tailor")
ASK = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def serve(engine, no_network):
    """Start servers on free ports of 127.0.0.1; all are stopped at the end."""
    servers: list[Server] = []

    def start(**options) -> Server:
        server = Server(engine, port=0, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(serve):
    return serve()


def client(server: Server, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0, timeout=60)


def streamed(server: Server, **request) -> tuple[str, list[dict]]:
    """A streamed completion read over plain HTTP: its text and every chunk."""
    chunks = []
    with httpx.stream(
        "POST", f"{server.url}/chat/completions", json={**request, "stream": True}, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    return text, chunks


# -- models -------------------------------------------------------------------------------------


def test_models_lists_each_assistant_version_and_each_raw_model(engine, server):
    engine.edit_assistant(DEFAULT_ASSISTANT, system_prompt="You answer briefly.")
    cards = {m.id: m for m in client(server).models.list().data}
    assert set(cards) == {
        DEFAULT_ASSISTANT,
        f"{DEFAULT_ASSISTANT}@1",
        f"{DEFAULT_ASSISTANT}@2",
        MODEL,
    }
    assert cards[DEFAULT_ASSISTANT].tailor["version"] == 2
    assert cards[f"{DEFAULT_ASSISTANT}@1"].tailor == {
        "kind": "assistant",
        "assistant": DEFAULT_ASSISTANT,
        "version": 1,
        "level": "Level 1",
        "model": MODEL,
    }
    assert cards[MODEL].tailor["kind"] == "model"
    assert client(server).models.retrieve(f"{DEFAULT_ASSISTANT}@1").id == f"{DEFAULT_ASSISTANT}@1"


# -- chat ---------------------------------------------------------------------------------------


def test_chat_streamed_and_not_give_the_same_reply_with_usage(engine, server):
    c = client(server)
    whole = c.chat.completions.create(model=DEFAULT_ASSISTANT, messages=ASK, max_tokens=12, seed=7)
    text = whole.choices[0].message.content
    assert text
    assert whole.choices[0].finish_reason in ("stop", "length")
    assert 0 < whole.usage.completion_tokens <= 12 and whole.usage.prompt_tokens > 10
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens

    parts, usage = [], None
    for chunk in c.chat.completions.create(
        model=DEFAULT_ASSISTANT,
        messages=ASK,
        max_tokens=12,
        seed=7,
        stream=True,
        stream_options={"include_usage": True},
    ):
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
        else:
            usage = chunk.usage
    assert "".join(parts) == text
    assert usage.completion_tokens == whole.usage.completion_tokens

    # The earlier messages are the history; a raw model takes the system message as its prompt.
    raw = c.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Arr!"},
            {"role": "user", "content": "Where is the treasure?"},
        ],
        max_tokens=4,
        seed=1,
    )
    assert raw.usage.prompt_tokens > whole.usage.prompt_tokens


def test_sampling_options_reach_the_model(server):
    c = client(server)
    ask = {"model": DEFAULT_ASSISTANT, "messages": ASK, "max_tokens": 16, "seed": 3}
    text = c.chat.completions.create(**ask, temperature=0.0).choices[0].message.content
    words = text.split()
    assert len(words) >= 3, text
    stop = words[2]
    cut = c.chat.completions.create(**ask, temperature=0.0, stop=[stop]).choices[0]
    assert cut.message.content == text[: text.index(stop)]
    assert cut.finish_reason == "stop"
    short = c.chat.completions.create(**{**ask, "max_tokens": 2}, temperature=0.0).choices[0]
    assert short.finish_reason == "length" and text.startswith(short.message.content)


def test_embeddings_come_from_the_bundled_embedder(engine, server):
    texts = ["The cat sleeps.", "Quarterly revenue grew."]
    got = client(server).embeddings.create(model="all-MiniLM-L6-v2", input=texts)  # base64
    plain = httpx.post(
        f"{server.url}/embeddings", json={"model": "x", "input": texts[0]}, timeout=60
    ).json()
    want = np.array(engine.embed(texts))
    assert [d.index for d in got.data] == [0, 1]
    assert np.allclose([d.embedding for d in got.data], want, atol=1e-5)
    assert np.allclose(plain["data"][0]["embedding"], want[0], atol=1e-5)
    assert np.allclose(np.linalg.norm(want, axis=1), 1.0, atol=1e-4)


# -- errors -------------------------------------------------------------------------------------


def test_errors_have_openais_shape_and_status(server):
    c = client(server)
    with pytest.raises(openai.NotFoundError) as missing:
        c.chat.completions.create(model="nobody", messages=ASK)
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model=f"{DEFAULT_ASSISTANT}@9", messages=ASK)
    with pytest.raises(openai.BadRequestError) as hot:
        c.chat.completions.create(model=DEFAULT_ASSISTANT, messages=ASK, temperature=5)
    assert hot.value.body["param"] == "temperature"

    url = f"{server.url}/chat/completions"
    bad = httpx.post(url, content=b'{"model": "x", ', headers={"content-type": "application/json"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]) == {"message", "type", "param", "code"}
    assert bad.json()["error"]["type"] == "invalid_request_error"
    for body in (
        {"model": DEFAULT_ASSISTANT},
        {"model": DEFAULT_ASSISTANT, "messages": []},
        {"model": DEFAULT_ASSISTANT, "messages": [{"role": "assistant", "content": "Hi"}]},
        {
            "model": DEFAULT_ASSISTANT,
            "messages": [{"role": "user", "content": [{"type": "image_url"}]}],
        },
    ):
        response = httpx.post(url, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["message"]
    assert httpx.get(f"{server.url}/nowhere").json()["error"]["message"]


def test_a_keyed_server_refuses_requests_without_its_key(serve):
    server = serve(key="sentinel-key-123")
    with pytest.raises(openai.AuthenticationError):
        client(server).models.list()
    with pytest.raises(openai.AuthenticationError):
        client(server, "wrong").chat.completions.create(model=DEFAULT_ASSISTANT, messages=ASK)
    assert httpx.get(f"{server.url}/models").status_code == 401
    assert client(server, "sentinel-key-123").models.list().data


def test_beyond_loopback_the_key_lives_in_the_os_keyring(engine, home, memory_keyring, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    server = Server(engine, host="0.0.0.0", port=0)
    try:
        key = memory_keyring.passwords[(SERVICE, USERNAME)]
        assert server.keyed and len(key) >= 32
        assert Server(engine, host="0.0.0.0", port=0).keyed  # the same key, made once
        assert list(memory_keyring.passwords.values()) == [key]
    finally:
        server.socket.close()
    for path in home.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_beyond_loopback_without_a_keyring_it_refuses_and_names_the_alternative(
    engine, no_keyring, monkeypatch
):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(KeyUnavailable, match=ENV_VAR):
        Server(engine, host="0.0.0.0", port=0)
    monkeypatch.setenv(ENV_VAR, "from-the-environment")
    server = Server(engine, host="0.0.0.0", port=0)
    server.socket.close()
    assert server.keyed


# -- concurrency, queue, disconnects --------------------------------------------------------------


def test_eight_concurrent_streams_complete_without_interleaving(server):
    def ask(seed):
        return streamed(server, model=DEFAULT_ASSISTANT, messages=ASK, max_tokens=8, seed=seed)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    c = client(server)
    for seed, (text, chunks) in enumerate(results):
        assert len({chunk["id"] for chunk in chunks}) == 1
        assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
        alone = c.chat.completions.create(
            model=DEFAULT_ASSISTANT, messages=ASK, max_tokens=8, seed=seed
        )
        assert text == alone.choices[0].message.content, seed


def test_a_full_queue_answers_429_with_retry_after(serve):
    server = serve(queue_size=1)
    app = server.app
    loop = app.state.loop
    queues = app.state.queues
    # Hold the model's turn, as a long generation would.
    holder = asyncio.run_coroutine_threadsafe(queues.enter(DEFAULT_ASSISTANT), loop).result(5)
    waiting = ThreadPoolExecutor(1).submit(
        client(server).chat.completions.create,
        model=DEFAULT_ASSISTANT,
        messages=ASK,
        max_tokens=4,
    )
    deadline = time.monotonic() + 10
    while queues.waiting.get(DEFAULT_ASSISTANT) != 1:
        assert time.monotonic() < deadline, "the second request never queued"
        time.sleep(0.02)
    with pytest.raises(openai.RateLimitError) as full:
        client(server).chat.completions.create(model=DEFAULT_ASSISTANT, messages=ASK)
    assert int(full.value.response.headers["Retry-After"]) >= 1
    assert full.value.body["code"] == "queue_full"
    loop.call_soon_threadsafe(queues.leave, holder)
    assert waiting.result(60).choices[0].message.content


def test_a_client_that_disconnects_stops_its_generation(server, caplog):
    caplog.set_level(logging.INFO, logger="tailor.server")
    request = {
        "model": DEFAULT_ASSISTANT,
        "messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
        "max_tokens": 1000,
        "seed": 1,
        "stream": True,
    }
    with httpx.stream("POST", f"{server.url}/chat/completions", json=request) as response:
        lines = response.iter_lines()
        tokens = 0
        while tokens < 3:
            if next(lines).startswith("data: "):
                tokens += 1
    deadline = time.monotonic() + 20
    while not any("cancelled" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.05)
    message = next(r.getMessage() for r in caplog.records if "cancelled" in r.getMessage())
    completion = int(message.split(" + ")[1].split()[0])
    assert completion < 1000, message
    # The turn is free again: the next request is answered at once.
    start = time.monotonic()
    client(server).chat.completions.create(model=DEFAULT_ASSISTANT, messages=ASK, max_tokens=4)
    assert time.monotonic() - start < 15


# -- knowledge ----------------------------------------------------------------------------------


def test_an_assistant_with_a_knowledge_base_returns_its_sources(engine, server, tmp_path):
    folder = tmp_path / "facts"
    folder.mkdir()
    (folder / "zebra.md").write_text(
        "# Zebra protocol\n\nThe Zebra protocol uses port 7431 and was designed by "
        "Marguerite Okafor.\n"
    )
    engine.create_knowledge_base("Facts")
    engine.add_folders("Facts", [folder])
    run(engine.index("Facts"))
    config = engine.get_assistant(DEFAULT_ASSISTANT).config.model_copy(
        update={"knowledge_base": "Facts"}
    )
    engine.create_assistant("Librarian", config)
    question = [{"role": "user", "content": "Which port does the Zebra protocol use?"}]

    # Greedy, so both requests get the same reply (and so the same cited passage): sampled,
    # the second prompt, all of it in llama.cpp's cache, is read again from its last token
    # alone, which shifts the logits by rounding enough to change a close draw.
    reply = client(server).chat.completions.create(
        model="Librarian", messages=question, max_tokens=8, seed=1, temperature=0
    )
    sources = reply.choices[0].message.model_extra["tailor_sources"]
    assert sources and sources[0]["n"] == 1
    assert sources[0]["source"].endswith("zebra.md") and "7431" in sources[0]["text"]
    assert reply.usage.prompt_tokens > 40  # the passage is in the prompt

    text, chunks = streamed(
        server, model="Librarian", messages=question, max_tokens=8, seed=1, temperature=0
    )
    assert text == reply.choices[0].message.content
    assert chunks[-1]["choices"][0]["delta"]["tailor_sources"] == sources

    # Another Tailor uses this one's assistant as a remote model, knowledge base and all.
    from engine.api import Engine

    other = Engine(tmp_path / "other-workspace")
    try:
        other.first_run()
        other.add_provider("office", server.url)
        assert "office/Librarian" in [m.name for m in other.provider_models("office")]
        conversation = other.create_conversation(None)
        answer = run(
            other.chat(
                question[0]["content"], model="office/Librarian", conversation_id=conversation.id
            )
        )
        assert answer.stats.prompt_tokens > 40  # the far side put its passage in the prompt
        assert answer.text.strip() and answer.stats.completion_tokens > 0
        assert other.model_host("office/Librarian") == server.url.split("/")[2]
    finally:
        other.close()


# -- the command line and the window ---------------------------------------------------------------


def test_tailor_serve_prints_the_url_and_models_and_stops_on_ctrl_c(home, no_keyring):
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    refused = subprocess.run(
        [TAILOR, "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert refused.returncode == 1
    assert ENV_VAR in refused.stderr and "--host 127.0.0.1" in refused.stderr

    process = subprocess.Popen(
        [TAILOR, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        out = []
        for line in process.stdout:
            out.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        url = next(line.split()[-1] for line in out if "/v1" in line)
        assert any(DEFAULT_ASSISTANT in line for line in out)
        assert httpx.get(f"{url}/models").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert "Stopped." in process.stdout.read()
    finally:
        process.kill()


def test_the_window_switch_starts_and_stops_the_server(engine, qtbot, monkeypatch):
    from desktop.main_window import MainWindow

    window = MainWindow(engine)
    qtbot.addWidget(window)
    page = window.pages["settings"]
    page.server_port.setValue(0)
    page.server_switch.setChecked(True)
    qtbot.waitUntil(lambda: page.server_url.text().startswith("http://127.0.0.1:"), timeout=15000)
    url = page.server_url.text()
    assert window.server_status.isVisibleTo(window) and url in window.server_status.text()
    assert DEFAULT_ASSISTANT in {m["id"] for m in httpx.get(f"{url}/models").json()["data"]}
    page.server_switch.setChecked(False)
    qtbot.waitUntil(lambda: page.server_url.text() == "Off", timeout=15000)
    assert not window.server_status.isVisibleTo(window)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")
    window.close()


def test_a_raft_assistant_answers_in_content_and_reasons_apart(
    engine, serve, tmp_path, monkeypatch
):
    """A RAFT reply's shape (the adapter itself is not trained here: the engine's reply is
    stood in for, parsed by the engine's own RAFT parser)."""
    from engine.events import Outcome, Reply, TokenEvent
    from engine.raft.format import parse_answer
    from engine.types import GenerationStats
    from tests import fake_adapters

    model = fake_adapters.register(engine, tmp_path, with_files=True)
    engine.services.assistants.create(
        "Raft",
        engine.get_assistant(DEFAULT_ASSISTANT).config.model_copy(
            update={"model": model, "adapter": "retrieval"}
        ),
    )
    text = "The guide says ##begin_quote##port 7431##end_quote##. <ANSWER>: 7431"
    source = {"n": 1, "source": "guide.md", "text": "The Zebra protocol uses port 7431."}

    def complete(messages, model, **_options):
        for piece in text.split(" "):
            yield TokenEvent(piece + " ")
        reply = Reply(text, GenerationStats(10, 5, stop_reason="stop"), sources=[source])
        reply.raft = parse_answer(text, [source])
        yield Outcome("done", reply)

    monkeypatch.setattr(engine, "complete", complete)
    server = serve()
    message = client(server).chat.completions.create(model="Raft", messages=ASK).choices[0].message
    assert message.content == "7431"
    assert "##begin_quote##port 7431##end_quote##" in message.model_extra["reasoning_content"]
    assert message.model_extra["tailor_sources"] == [source]

    _text, chunks = streamed(server, model="Raft", messages=ASK)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert "".join(d.get("reasoning_content", "") for d in deltas).strip() == text
    assert deltas[-1]["content"] == "7431"
