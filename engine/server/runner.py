"""Running the server with uvicorn: in the foreground for ``tailor serve`` (Ctrl-C stops it), or
in a background thread for the window's "Local server" switch."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from engine.api import Engine
from engine.errors import TailorError
from engine.server.app import DEFAULT_QUEUE, create_app
from engine.server.auth import api_key, is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class Server:
    """One server over ``engine`` on ``host:port`` (port 0: any free port). Any address but
    the loopback requires the API key (:func:`engine.server.auth.api_key`); ``key`` gives one
    explicitly (tests)."""

    def __init__(
        self,
        engine: Engine,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        queue_size: int = DEFAULT_QUEUE,
        key: str | None = None,
    ):
        if key is None and not is_loopback(host):
            key = api_key()
        self.host = host
        self.keyed = key is not None
        self.app = create_app(engine, queue_size=queue_size, api_key=key)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise TailorError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            timeout_graceful_shutdown=3,
            lifespan="on",
        )
        self.uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def run(self) -> None:
        """Serve until Ctrl-C (or :meth:`stop`)."""
        try:
            self.uvicorn.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self, timeout: float = 10.0) -> None:
        """Serve from a background thread; returns once it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="tailor-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise TailorError("The local server did not start.")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (a generation still running is stopped) and wait for the thread."""
        self.uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
