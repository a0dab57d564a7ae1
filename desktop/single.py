"""One window per workspace, and files opened with Tailor go to it.

The first window of a workspace listens on a local socket (``QLocalServer``: a Unix socket, a
named pipe on Windows) named after the workspace. A second start — a double-click on the app,
or "Open with Tailor" on a ``.gguf`` — finds the workspace in use, hands its files to that
window and exits; the window comes to the front and takes each file as if it were dropped on
it (a model is imported, a folder indexed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

TIMEOUT_MS = 2000


def server_name(home: Path) -> str:
    digest = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:16]
    return f"tailor-{digest}"


def hand_over(home: Path, paths: list[Path]) -> bool:
    """Give ``paths`` to the window that has ``home`` open; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(home))
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    message = json.dumps({"open": [str(Path(p).resolve()) for p in paths]}).encode() + b"\n"
    socket.write(message)
    ok = socket.waitForBytesWritten(TIMEOUT_MS)
    # The window answers once it has taken the message, so nothing is lost when we exit.
    ok = ok and socket.waitForReadyRead(TIMEOUT_MS) and socket.readLine().data() == b"ok\n"
    socket.disconnectFromServer()
    return bool(ok)


class Listener(QObject):
    """Takes what later starts of the app hand over: ``on_open(paths)`` on the Qt thread."""

    def __init__(self, home: Path, on_open: Callable[[list[Path]], None], parent=None):
        super().__init__(parent)
        self.on_open = on_open
        self.server = QLocalServer(self)
        name = server_name(home)
        # A window that crashed leaves its socket file behind on Unix: this workspace's lock is
        # ours, so nobody else is listening on it.
        QLocalServer.removeServer(name)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.listening = self.server.listen(name)
        self.server.newConnection.connect(self._accept)

    def _accept(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        try:
            paths = [Path(p) for p in json.loads(socket.readLine().data())["open"]]
        except (ValueError, KeyError, TypeError):
            socket.disconnectFromServer()
            return
        socket.write(b"ok\n")
        socket.flush()
        self.on_open(paths)

    def close(self) -> None:
        self.server.close()
