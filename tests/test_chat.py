"""Level 1 chat through the engine with the real llama.cpp and the bundled model."""

import threading

import pytest

from engine.api import DEFAULT_ASSISTANT, Engine
from engine.errors import TailorError
from engine.events import CancelToken, Loading, Outcome, Reply, TokenEvent, run
from engine.types import Example


def short(engine, tokens=24):
    engine.edit_assistant(DEFAULT_ASSISTANT, max_tokens=tokens, temperature=0.0)


def test_reply_streams_token_by_token_with_stats(engine):
    short(engine)
    events = list(engine.chat("Name three colours.", assistant=DEFAULT_ASSISTANT))
    assert isinstance(events[0], Loading)
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    outcome = events[-1]
    assert isinstance(outcome, Outcome) and outcome.status == "done"
    reply = outcome.result
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
    a = run(engine.chat("Say hello.", assistant=DEFAULT_ASSISTANT)).text
    b = run(engine.chat("Say hello.", assistant=DEFAULT_ASSISTANT)).text
    assert a == b and a


def test_cancel_stops_at_the_next_token(engine):
    engine.edit_assistant(DEFAULT_ASSISTANT, max_tokens=400, temperature=0.0)
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
        elif isinstance(event, Outcome):
            assert event.status == "cancelled"  # a Stop is a normal ending, keeping the reply
            reply = event.result
    assert reply is not None and reply.stats.stop_reason == "cancelled"
    assert seen <= 4 and reply.stats.completion_tokens <= 5


def test_conversation_persists_and_continues(engine, home):
    short(engine, 16)
    cid = engine.create_conversation(DEFAULT_ASSISTANT).id
    run(engine.chat("My name is Ada.", assistant=DEFAULT_ASSISTANT, conversation_id=cid))
    second = run(engine.chat("What is my name?", assistant=DEFAULT_ASSISTANT, conversation_id=cid))
    # The second prompt carried the first exchange.
    assert [m["content"] for m in second.messages if m["role"] == "user"] == [
        "My name is Ada.",
        "What is my name?",
    ]
    engine.close()
    reopened = Engine(home)
    conv = reopened.list_conversations(DEFAULT_ASSISTANT)[0]
    assert conv.title == "My name is Ada."
    messages = reopened.conversation_messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[-1].stats["completion_tokens"] > 0
    assert messages[-1].prompt["messages"] == second.messages
    assert messages[-1].assistant_version == 2
    reopened.close()


def test_example_set_changes_the_answer(engine):
    """Level 2 does something: the demonstrations' format shows up in the reply."""
    short(engine, 12)
    question = "What is the largest ocean on Earth?"
    plain = run(engine.chat(question, assistant=DEFAULT_ASSISTANT)).text
    engine.create_example_set(
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
    engine.edit_assistant(DEFAULT_ASSISTANT, example_set="shout")
    shaped = run(engine.chat(question, assistant=DEFAULT_ASSISTANT)).text
    assert not plain.startswith("ANSWER:")
    assert shaped.startswith("ANSWER:")


def test_overlong_conversation_is_refused_clearly(engine):
    engine.save_settings(context_size=256)
    with pytest.raises(TailorError, match="no longer fits"):
        run(engine.chat("word " * 400, assistant=DEFAULT_ASSISTANT))


def test_settings_change_reloads_the_model(engine):
    short(engine, 4)
    run(engine.chat("Hi", assistant=DEFAULT_ASSISTANT))
    generation = engine.services.generation
    first = generation._loaded
    engine.save_settings(threads=1)
    events = list(engine.chat("Hi", assistant=DEFAULT_ASSISTANT))
    assert isinstance(events[0], Loading) and generation._loaded is not first
    assert generation._loaded.options.n_threads == 1


def test_generations_from_two_threads_are_serialised(engine):
    short(engine, 8)
    results = []

    def ask():
        results.append(run(engine.chat("Count to three.", assistant=DEFAULT_ASSISTANT)))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0].text == results[1].text
