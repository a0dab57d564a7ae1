"""Level 1 chat through the engine with the real llama.cpp and the bundled model."""

import threading

import pytest

from engine.api import DEFAULT_ASSISTANT, Engine, Loading, Reply, TokenEvent
from engine.errors import TailorError
from engine.examples import Example
from engine.models.runtime import CancelToken


def short(engine, tokens=24):
    engine.assistants.edit(DEFAULT_ASSISTANT, max_tokens=tokens, temperature=0.0)


def test_reply_streams_token_by_token_with_stats(engine):
    short(engine)
    events = list(engine.chat("Name three colours.", assistant=DEFAULT_ASSISTANT))
    assert isinstance(events[0], Loading)
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    reply = events[-1]
    assert isinstance(reply, Reply)
    assert len(tokens) >= 5
    assert "".join(t.text for t in tokens) == reply.text
    s = reply.stats
    assert s.prompt_tokens > 10 and 5 <= s.completion_tokens <= 24
    assert 0 < s.time_to_first_token_s < s.total_s
    assert s.tokens_per_s > 1
    assert reply.prompt.startswith("<|im_start|>system")
    assert reply.messages[-1] == {"role": "user", "content": "Name three colours."}


def test_zero_temperature_is_repeatable(engine):
    short(engine, 12)
    a = list(engine.chat("Say hello.", assistant=DEFAULT_ASSISTANT))[-1].text
    b = list(engine.chat("Say hello.", assistant=DEFAULT_ASSISTANT))[-1].text
    assert a == b and a


def test_cancel_stops_at_the_next_token(engine):
    engine.assistants.edit(DEFAULT_ASSISTANT, max_tokens=400, temperature=0.0)
    cancel = CancelToken()
    seen = 0
    reply = None
    for event in engine.chat(
        "Write a long story about a dragon.", assistant=DEFAULT_ASSISTANT, cancel=cancel
    ):
        if isinstance(event, TokenEvent):
            seen += 1
            if seen == 3:
                cancel.cancel()
        elif isinstance(event, Reply):
            reply = event
    assert reply is not None and reply.stats.stop_reason == "cancelled"
    assert seen <= 4 and reply.stats.completion_tokens <= 5


def test_conversation_persists_and_continues(engine, home):
    short(engine, 16)
    cid = engine.conversations.create(DEFAULT_ASSISTANT).id
    list(engine.chat("My name is Ada.", assistant=DEFAULT_ASSISTANT, conversation_id=cid))
    second = list(
        engine.chat("What is my name?", assistant=DEFAULT_ASSISTANT, conversation_id=cid)
    )[-1]
    # The second prompt carried the first exchange.
    assert [m["content"] for m in second.messages if m["role"] == "user"] == [
        "My name is Ada.",
        "What is my name?",
    ]
    engine.close()
    reopened = Engine(home)
    conv = reopened.conversations.list(DEFAULT_ASSISTANT)[0]
    assert conv.title == "My name is Ada."
    messages = reopened.conversations.messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[-1].stats["completion_tokens"] > 0
    assert messages[-1].prompt["messages"] == second.messages
    assert messages[-1].assistant_version == 2
    reopened.close()


def test_example_set_changes_the_answer(engine):
    """Level 2 does something: the demonstrations' format shows up in the reply."""
    short(engine, 12)
    question = "What is the largest ocean on Earth?"
    plain = list(engine.chat(question, assistant=DEFAULT_ASSISTANT))[-1].text
    engine.examples.create(
        "shout",
        [
            Example(q, a)
            for q, a in [
                ("What is the capital of Italy?", "ANSWER: ROME"),
                ("What colour is grass?", "ANSWER: GREEN"),
                ("How many days are in a week?", "ANSWER: SEVEN"),
            ]
        ],
    )
    engine.assistants.edit(DEFAULT_ASSISTANT, example_set="shout")
    shaped = list(engine.chat(question, assistant=DEFAULT_ASSISTANT))[-1].text
    assert not plain.startswith("ANSWER:")
    assert shaped.startswith("ANSWER:")


def test_overlong_conversation_is_refused_clearly(engine):
    engine.save_settings(context_size=256)
    with pytest.raises(TailorError, match="no longer fits"):
        list(engine.chat("word " * 400, assistant=DEFAULT_ASSISTANT))


def test_settings_change_reloads_the_model(engine):
    short(engine, 4)
    list(engine.chat("Hi", assistant=DEFAULT_ASSISTANT))
    first = engine._loaded
    engine.save_settings(threads=1)
    events = list(engine.chat("Hi", assistant=DEFAULT_ASSISTANT))
    assert isinstance(events[0], Loading) and engine._loaded is not first
    assert engine._loaded.options.n_threads == 1


def test_generations_from_two_threads_are_serialised(engine):
    short(engine, 8)
    results = []

    def ask():
        results.append(list(engine.chat("Count to three.", assistant=DEFAULT_ASSISTANT))[-1])

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0].text == results[1].text
