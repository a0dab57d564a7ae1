"""One window per workspace; a killed window never locks the user out."""

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.errors import WorkspaceInUse
from engine.workspace import Workspace, default_home

HOLDER = (
    "import sys, time\n"
    "from engine.workspace import Workspace\n"
    "ws = Workspace(sys.argv[1])\n"
    "ws.acquire_app_lock()\n"
    "print('locked', flush=True)\n"
    "time.sleep(120)\n"
)


def hold_lock(home):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_tailor_home_overrides_the_location(home):
    assert default_home() == home


def test_second_instance_is_refused_and_a_killed_one_releases(home):
    proc = hold_lock(home)
    try:
        ws = Workspace(home)
        with pytest.raises(WorkspaceInUse, match="already open"):
            ws.acquire_app_lock()
        # The command line can still read the workspace meanwhile.
        assert ws.get_setting("missing", "default") == "default"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            ws.acquire_app_lock()
            break
        except WorkspaceInUse:
            assert time.monotonic() < deadline, "lock of a killed process was not released"
            time.sleep(0.1)
    ws.close()
