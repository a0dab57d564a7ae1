"""desktop.worker.Job, the one way the window runs engine work: each ending is one signal on the
Qt thread, and a failure nobody handles becomes the error dialog."""

import threading

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.worker import Job
from engine.errors import TailorError
from engine.events import operation


@pytest.fixture
def parent(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def record(job: Job) -> dict[str, list]:
    """Every signal the job emits, with the thread it arrived on."""
    seen: dict[str, list] = {"event": [], "succeeded": [], "cancelled": [], "threads": []}
    for name in ("event", "succeeded"):
        getattr(job, name).connect(lambda value, name=name: seen[name].append(value))
    job.cancelled.connect(lambda: seen["cancelled"].append(True))
    job.finished.connect(lambda: seen["threads"].append(threading.current_thread()))
    return seen


@operation
def refuse(*, cancel=None):
    yield "started"
    raise TailorError("The disk is full.")


def test_an_unhandled_failure_shows_the_error_dialog(parent, qtbot):
    job = Job(lambda cancel: refuse(cancel=cancel), parent, "Saving")
    seen = record(job)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.start()
    box = parent.findChild(QMessageBox, "errorDialog")
    assert box is not None and box.text() == "The disk is full." and box.windowTitle() == "Saving"
    assert seen["event"] == ["started"] and not seen["succeeded"] and not seen["cancelled"]
    assert seen["threads"] == [threading.main_thread()]


def test_a_handled_failure_gets_the_error_and_no_dialog(parent, qtbot):
    job = Job(lambda cancel: refuse(cancel=cancel), parent)
    errors = []
    job.failed.connect(errors.append)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.start()
    assert [str(e) for e in errors] == ["The disk is full."]
    assert isinstance(errors[0], TailorError)
    assert parent.findChild(QMessageBox, "errorDialog") is None


def test_a_programming_error_is_shown_with_its_type(parent, qtbot):
    job = Job(lambda _cancel: {}["missing"], parent)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.start()
    box = parent.findChild(QMessageBox, "errorDialog")
    assert box is not None and box.text() == "Something went wrong: KeyError: 'missing'"


def test_a_cancelled_job_says_so_and_shows_no_dialog(parent, qtbot):
    @operation
    def until_stopped(*, cancel):
        yield 1
        while not cancel.cancelled:
            threading.Event().wait(0.01)
        yield 2  # an operation may still report where it stopped
        return "kept"

    job = Job(lambda cancel: until_stopped(cancel=cancel), parent)
    seen = record(job)  # a slot taking no argument still hears ``cancelled``
    kept = []
    job.cancelled.connect(kept.append)
    with qtbot.waitSignal(job.event, timeout=10_000):
        job.start()
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.cancel()
    assert seen["cancelled"] == [True] and not seen["succeeded"]
    assert seen["event"] == [1, 2]
    assert kept == ["kept"]  # what the operation kept comes with the ending
    assert parent.findChild(QMessageBox, "errorDialog") is None


def test_success_carries_the_result_or_the_returned_value(parent, qtbot):
    @operation
    def count(*, cancel=None):
        yield from (1, 2, 3)
        return 3

    job = Job(lambda cancel: count(cancel=cancel), parent)
    seen = record(job)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.start()
    assert seen["event"] == [1, 2, 3] and seen["succeeded"] == [3] and not seen["cancelled"]

    ran_on = []

    def plain(_cancel):
        ran_on.append(threading.current_thread())
        return {"answer": 42}

    job = Job(plain, parent)
    seen = record(job)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        job.start()
    assert seen["succeeded"] == [{"answer": 42}] and seen["event"] == []
    assert ran_on and ran_on[0] is not threading.main_thread()
    assert seen["threads"] == [threading.main_thread()]
    assert parent.findChild(QMessageBox, "errorDialog") is None
