"""Shared fixtures. Every test gets its own workspace in a temporary folder; the real bundled
model, the real embedder and a real Qt widget tree are used throughout."""

from __future__ import annotations

import os
import socket

import pytest

from tests.desktop_bus import desktop_bus  # noqa: F401  (a fixture: a private D-Bus)
from tests.keyrings import memory_keyring, no_keyring  # noqa: F401  (fixtures)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("TAILOR_HOME", str(path))
    return path


@pytest.fixture
def engine(home):
    from engine.api import Engine

    e = Engine(home)
    e.first_run()
    # Tests answer short; CPU threads stay at the default.
    yield e
    e.close()


class NetworkBlocked(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Fail on any attempt to connect anywhere but loopback; record the attempts."""
    attempts: list = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(address) -> bool:
        if isinstance(address, tuple) and address:
            host = str(address[0])
            return host in ("localhost", "::1") or host.startswith("127.")
        return isinstance(address, (str, bytes))  # Unix sockets stay on the machine

    def guard(real):
        def connect(self, address):
            if not allowed(address):
                attempts.append(address)
                raise NetworkBlocked(f"outbound connection attempted: {address!r}")
            return real(self, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))

    def no_dns(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1", None):
            attempts.append(host)
            raise NetworkBlocked(f"name lookup attempted: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return attempts


@pytest.fixture
def window(engine, qtbot):
    """The real main window on ``engine``, shown; a reply still streaming is stopped after the
    test. (tests/test_gui.py's also answers the version-note dialog.)"""
    from desktop.main_window import MainWindow

    w = MainWindow(engine)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.chat.job is not None:
        w.chat.job.cancel()
        qtbot.waitUntil(lambda: w.chat.job is None, timeout=60_000)
