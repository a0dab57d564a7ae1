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


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_workspace_is_private_whatever_the_umask(tmp_path, umask_022):
    home = tmp_path / "new" / "workspace"
    ws = Workspace(home)
    ws.set_setting("written", True)  # so the write-ahead log exists too
    assert mode(home) == 0o700
    assert mode(ws.models_dir) == 0o700
    for name in ("tailor.db", "tailor.db-wal", "tailor.db-shm"):
        assert mode(home / name) == 0o600, name
    ws.close()


def test_an_empty_folder_is_made_private_but_a_users_own_folder_keeps_its_mode(tmp_path, umask_022):
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    Workspace(empty).close()
    assert mode(empty) == 0o700

    # A $TAILOR_HOME that already holds other things is the user's: its permissions are
    # theirs, but what Tailor keeps in it is private.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "notes.txt").write_text("mine")
    Workspace(shared).close()
    assert mode(shared) == 0o755
    assert mode(shared / "tailor.db") == 0o600
    assert mode(shared / "models") == 0o700


def test_an_older_workspace_in_tailors_own_folder_is_made_private(tmp_path, monkeypatch, umask_022):
    import platformdirs

    own = tmp_path / "data" / "Tailor"
    monkeypatch.delenv("TAILOR_HOME", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(own))
    own.mkdir(parents=True, mode=0o755)
    Workspace().close()  # written by a release that left it readable to everyone
    own.chmod(0o755)
    (own / "tailor.db").chmod(0o644)
    Workspace().close()
    assert mode(own) == 0o700
    assert mode(own / "tailor.db") == 0o600
