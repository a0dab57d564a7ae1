"""Keeping the computer awake while a training job runs, and telling the desktop when it ends.

Both go through the desktop's own D-Bus services (jeepney, pure Python, already there for the
keyring on Linux), never through a shell command:

- **Awake.** systemd-logind's ``Inhibit("sleep:idle", …, "block")`` on the system bus, which
  answers with a file descriptor: sleep and idle suspend are blocked for as long as it is open,
  so the lock ends with the process even if it is killed. Where logind is not there (or says no),
  the desktop portal's ``org.freedesktop.portal.Inhibit`` on the session bus, held by keeping
  the connection open. Where neither is, :func:`keep_awake` says so and the job runs anyway.
- **Notifications.** ``org.freedesktop.Notifications.Notify`` on the session bus: the job's
  end (done, failed or stopped) with its final loss.

On Windows and macOS (no D-Bus) both report that they are not available.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

TIMEOUT_S = 5.0
APP_NAME = "Tailor"


@dataclass
class Inhibition:
    """A held "keep awake". ``how`` names the service that holds it ("" when none could);
    ``why_not`` says why not. :meth:`release` ends it (idempotent)."""

    how: str = ""
    why_not: str = ""
    _release: list = field(default_factory=list, repr=False)

    def release(self) -> None:
        while self._release:
            with contextlib.suppress(Exception):
                self._release.pop()()


def keep_awake(why: str) -> Inhibition:
    """Block sleep and idle suspend until :meth:`Inhibition.release` (or this process ends)."""
    reasons = []
    for attempt in (_logind, _portal):
        try:
            return attempt(why)
        except Exception as exc:  # no bus, no service, refused: try the next way
            reasons.append(f"{attempt.__doc__}: {_reason(exc)}")
    return Inhibition(why_not="; ".join(reasons))


def notify(title: str, body: str) -> bool:
    """Show a desktop notification; False when there is no notification service."""
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        address = DBusAddress(
            "/org/freedesktop/Notifications",
            bus_name="org.freedesktop.Notifications",
            interface="org.freedesktop.Notifications",
        )
        message = new_method_call(
            address,
            "Notify",
            "susssasa{sv}i",
            (APP_NAME, 0, "tailor", title, body, [], {}, -1),
        )
        with open_dbus_connection(bus="SESSION") as conn:
            _check(conn.send_and_get_reply(message, timeout=TIMEOUT_S))
        return True
    except Exception:
        return False


def _logind(why: str) -> Inhibition:
    """systemd-logind"""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    address = DBusAddress(
        "/org/freedesktop/login1",
        bus_name="org.freedesktop.login1",
        interface="org.freedesktop.login1.Manager",
    )
    message = new_method_call(address, "Inhibit", "ssss", ("sleep:idle", APP_NAME, why, "block"))
    with open_dbus_connection(bus="SYSTEM", enable_fds=True) as conn:
        reply = _check(conn.send_and_get_reply(message, timeout=TIMEOUT_S))
    fd = reply.body[0].to_raw_fd()
    return Inhibition("systemd-logind", _release=[lambda: os.close(fd)])


def _portal(why: str) -> Inhibition:
    """desktop portal"""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    address = DBusAddress(
        "/org/freedesktop/portal/desktop",
        bus_name="org.freedesktop.portal.Desktop",
        interface="org.freedesktop.portal.Inhibit",
    )
    # Flags: 4 suspend, 8 idle. The inhibition lasts while this connection is open.
    message = new_method_call(address, "Inhibit", "sua{sv}", ("", 4 | 8, {"reason": ("s", why)}))
    conn = open_dbus_connection(bus="SESSION")
    try:
        handle = _check(conn.send_and_get_reply(message, timeout=TIMEOUT_S)).body[0]
    except BaseException:
        conn.close()
        raise

    def release() -> None:
        request = DBusAddress(
            handle,
            bus_name="org.freedesktop.portal.Desktop",
            interface="org.freedesktop.portal.Request",
        )
        try:
            conn.send_and_get_reply(new_method_call(request, "Close"), timeout=TIMEOUT_S)
        finally:
            conn.close()

    return Inhibition("desktop portal", _release=[release])


def _check(reply):
    from jeepney import MessageType

    if reply.header.message_type == MessageType.error:
        raise RuntimeError(reply.body[0] if reply.body else "refused")
    return reply


def _reason(exc: Exception) -> str:
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return "no bus"
    if isinstance(exc, KeyError):  # jeepney: no address for this bus in the environment
        return "no bus"
    return str(exc) or type(exc).__name__
