"""One window per workspace, and "Open with Tailor": a second start hands its files to the
window that is open, which imports a model as if it had been dropped on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.single import Listener
from tests.gguf_factory import write_gguf

TAILOR = str(Path(sys.executable).parent / "tailor")


def second_start(home: Path, paths: list[Path]) -> subprocess.Popen:
    """``hand_over`` as a second start of the app runs it: in a process of its own."""
    code = (
        "import sys; from pathlib import Path; from PySide6.QtCore import QCoreApplication; "
        "from desktop.single import hand_over; app = QCoreApplication([]); "
        "sys.exit(0 if hand_over(Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]) else 3)"
    )
    args = [sys.executable, "-c", code, str(home), *map(str, paths)]
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True)


def test_a_second_start_hands_its_files_to_the_listening_window(qtbot, tmp_path):
    received: list[list[Path]] = []
    listener = Listener(tmp_path / "workspace", received.append)
    assert listener.listening
    paths = [tmp_path / "model.gguf", tmp_path / "notes"]
    start = second_start(tmp_path / "workspace", paths)
    qtbot.waitUntil(lambda: start.poll() is not None, timeout=30_000)
    assert start.returncode == 0, start.stderr.read()
    assert received == [[p.resolve() for p in paths]]
    # Another workspace's window is not this one; nor is a window that has closed.
    assert second_start(tmp_path / "elsewhere", paths).wait(30) == 3
    listener.close()
    assert second_start(tmp_path / "workspace", paths).wait(30) == 3
    assert len(received) == 1


@pytest.mark.slow
def test_open_with_tailor_imports_a_model_into_the_window_already_open(home, tmp_path):
    model = write_gguf(tmp_path / "tiny-opened.gguf")
    env = dict(os.environ, TAILOR_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    first = subprocess.Popen([TAILOR], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        from engine.api import Engine

        # Wait for the window: once it is up, it answers a second start.
        deadline = time.monotonic() + 240
        while second_start(home, []).wait(60) != 0:
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "the window did not come up"
            time.sleep(1)
        second = subprocess.run(
            [TAILOR, str(model)], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stdout + second.stderr
        assert first.poll() is None  # the first window is still the one open

        def imported() -> bool:
            engine = Engine(home)
            try:
                return "tiny-opened" in {m.name for m in engine.list_models()}
            finally:
                engine.close()

        deadline = time.monotonic() + 60
        while not imported():
            assert time.monotonic() < deadline, "the window did not import the model"
            time.sleep(0.5)
    finally:
        first.terminate()
        first.wait(30)
