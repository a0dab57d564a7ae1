"""A private D-Bus daemon standing in for the desktop's buses, with systemd-logind's Inhibit and
the notification service answered by a thread in the test (jeepney on both sides)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest


class DesktopServices:
    """Answers ``org.freedesktop.login1.Manager.Inhibit`` with the read end of a pipe (as logind
    answers with a file descriptor) and records ``org.freedesktop.Notifications.Notify``."""

    def __init__(
        self, address: str, names=("org.freedesktop.login1", "org.freedesktop.Notifications")
    ):
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.inhibits: list[tuple[tuple, int]] = []  # (Inhibit's arguments, the pipe's write end)
        self.notifications: list[tuple] = []
        self.portal_requests: list[list] = []  # [Inhibit's arguments, still held]
        self._conn = open_dbus_connection(address, enable_fds=True)
        for name in names:
            self._conn.send_and_get_reply(message_bus.RequestName(name))
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def held(self, n: int = -1) -> bool:
        """Whether inhibition ``n`` is still held: its file descriptor still open somewhere."""
        try:
            os.write(self.inhibits[n][1], b"x")
        except BrokenPipeError:
            return False
        return True

    def released(self, n: int = -1, within_s: float = 5.0) -> bool:
        """Whether inhibition ``n`` ends within ``within_s``. The bus daemon closes its own copy of
        a passed descriptor after delivering it, so the last copy may close a moment after the
        holder's."""
        import time

        deadline = time.monotonic() + within_s
        while self.held(n):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_method_return

        while self._running:
            try:
                message = self._conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            if message.header.message_type != MessageType.method_call:
                continue
            member = message.header.fields.get(HeaderFields.member)
            interface = message.header.fields.get(HeaderFields.interface)
            if interface == "org.freedesktop.portal.Inhibit":
                self.portal_requests.append([message.body, True])
                handle = f"/org/freedesktop/portal/desktop/request/t{len(self.portal_requests)}"
                self._conn.send(new_method_return(message, "o", (handle,)))
            elif interface == "org.freedesktop.portal.Request" and member == "Close":
                path = message.header.fields.get(HeaderFields.path)
                self.portal_requests[int(path.rsplit("t", 1)[1]) - 1][1] = False
                self._conn.send(new_method_return(message))
            elif member == "Inhibit":
                read, write = os.pipe()
                self.inhibits.append((message.body, write))
                self._conn.send(new_method_return(message, "h", (read,)))
                os.close(read)
            elif member == "Notify":
                self.notifications.append(message.body)
                self._conn.send(new_method_return(message, "u", (len(self.notifications),)))

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self._conn.close()
        for _args, write in self.inhibits:
            os.close(write)


@pytest.fixture
def desktop_bus(monkeypatch):
    """A private bus for this test, set as both the session and the system bus."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address"],
        stdout=subprocess.PIPE,
        text=True,
    )
    address = daemon.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    services = DesktopServices(address)
    yield services
    services.close()
    daemon.terminate()
    daemon.wait(10)
