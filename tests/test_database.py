"""The records database under threads: each thread has its own connection, so one thread's
rollback never undoes another's writes, and writes from many threads at once all land."""

import gc
import threading

import pytest

from engine.assistants import AssistantConfig, Assistants
from engine.conversations import Conversations
from engine.examples import Example, ExampleSets
from engine.workspace import Workspace


@pytest.fixture
def ws(home):
    workspace = Workspace(home)
    yield workspace
    workspace.close()


def test_one_threads_rollback_keeps_another_threads_writes(ws):
    """A failed import on a worker thread rolls back; a setting saved meanwhile on another
    thread must survive it. With one shared connection the setting joined the import's
    transaction and vanished with its rollback."""
    importing = threading.Event()
    other_write_done = threading.Event()

    def examples_then_failure():
        yield Example("What is 1+1?", "2")
        importing.set()
        # Give the other thread's write every chance to land inside this transaction. With a
        # connection per thread it waits for the write lock instead, so this wait runs out.
        other_write_done.wait(timeout=3)
        raise OSError("the file went away mid-import")

    def failing_import():
        with pytest.raises(OSError):
            ExampleSets(ws).create("imported", examples_then_failure())

    importer = threading.Thread(target=failing_import)
    importer.start()
    assert importing.wait(timeout=30)

    def save_setting():
        ws.set_setting("theme", "dark")
        other_write_done.set()

    writer = threading.Thread(target=save_setting)
    writer.start()
    importer.join()
    writer.join()

    assert ws.get_setting("theme") == "dark"
    assert "imported" not in ExampleSets(ws).names()


def test_threads_write_through_the_engine_at_once(ws):
    threads, per_thread = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int):
        try:
            assistants, conversations = Assistants(ws), Conversations(ws)
            start.wait()
            for i in range(per_thread):
                name = f"assistant {t}-{i}"
                assistants.create(name, AssistantConfig(model="m"))
                assistants.edit(name, temperature=0.1)
                cid = conversations.create(name).id
                conversations.add(cid, "user", f"question {t}-{i}")
                conversations.add(cid, "assistant", "answer")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == []
    assistants, conversations = Assistants(ws), Conversations(ws)
    assert len(assistants.names()) == threads * per_thread
    assert all(len(assistants.history(n)) == 2 for n in assistants.names())
    chats = conversations.list()
    assert len(chats) == threads * per_thread
    assert all(c.title.startswith("question ") for c in chats)
    assert all(len(conversations.messages(c.id)) == 2 for c in chats)


def test_nested_transactions_join_the_outer_one(ws):
    with ws.transaction():
        ws.set_setting("outer", 1)
        with pytest.raises(ValueError), ws.transaction():
            ws.set_setting("inner", 1)
            raise ValueError
        # The inner failure undid only the inner block.
        assert ws.get_setting("inner") is None
        with ws.transaction():
            ws.set_setting("kept", 1)
    assert ws.get_setting("outer") == 1 and ws.get_setting("kept") == 1

    with pytest.raises(ValueError), ws.transaction():
        ws.set_setting("all-or-nothing", 1)
        with ws.transaction():
            ws.set_setting("nested", 1)
        raise ValueError
    assert ws.get_setting("all-or-nothing") is None and ws.get_setting("nested") is None


def test_a_finished_threads_connection_is_closed(ws):
    used = []
    worker = threading.Thread(target=lambda: used.append(ws.db))
    worker.start()
    worker.join()
    gc.collect()
    with pytest.raises(Exception, match="closed"):
        used[0].execute("SELECT 1")
    # The thread that opened the workspace keeps its own.
    assert ws.db.execute("SELECT 1").fetchone()[0] == 1


def test_closing_the_workspace_closes_every_threads_connection(home):
    ws = Workspace(home)
    ready, release = threading.Event(), threading.Event()
    used = []

    def hold():
        used.append(ws.db)
        ready.set()
        release.wait(timeout=30)

    worker = threading.Thread(target=hold)
    worker.start()
    assert ready.wait(timeout=30)
    ws.close()
    release.set()
    worker.join()
    with pytest.raises(Exception, match="closed"):
        used[0].execute("SELECT 1")
