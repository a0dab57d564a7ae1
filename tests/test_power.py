"""Overnight on a workstation: the computer is kept awake through the desktop's own inhibit
service while a job runs, and a desktop notification reports the end."""

from __future__ import annotations

from engine import power


def test_keep_awake_holds_logind_inhibit_until_released(desktop_bus):
    held = power.keep_awake("Training the adapter “support-v2”")
    assert held.how == "systemd-logind"
    [(args, _fd)] = desktop_bus.inhibits
    assert args == ("sleep:idle", "Tailor", "Training the adapter “support-v2”", "block")
    assert desktop_bus.held()
    held.release()
    assert desktop_bus.released()
    held.release()  # twice is harmless


def test_without_a_bus_the_job_is_told_why_and_nothing_breaks(monkeypatch, tmp_path):
    missing = f"unix:path={tmp_path}/no-bus"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", missing)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", missing)
    held = power.keep_awake("Training")
    assert held.how == "" and "systemd-logind: no bus" in held.why_not
    held.release()
    assert power.notify("Training finished", "loss 1.2") is False


def test_a_notification_reaches_the_desktop(desktop_bus):
    assert power.notify("Training finished", "support-v2: 30 steps, final loss 1.234")
    [note] = desktop_bus.notifications
    assert note[0] == "Tailor" and note[3:5] == (
        "Training finished",
        "support-v2: 30 steps, final loss 1.234",
    )


def test_without_logind_the_desktop_portal_holds_it(desktop_bus, monkeypatch, tmp_path):
    from tests.desktop_bus import DesktopServices

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-system-bus")
    address = desktop_bus_address()
    portal = DesktopServices(address, names=("org.freedesktop.portal.Desktop",))
    try:
        held = power.keep_awake("Training")
        assert held.how == "desktop portal"
        [(args, still)] = portal.portal_requests
        assert args[1] == 4 | 8 and args[2]["reason"] == ("s", "Training") and still
        held.release()
        assert portal.portal_requests[0][1] is False
    finally:
        portal.close()


def desktop_bus_address() -> str:
    import os

    return os.environ["DBUS_SESSION_BUS_ADDRESS"]


def test_the_status_bar_says_while_a_job_keeps_the_computer_awake(engine, qtbot, tmp_path):
    from desktop.widgets.awake import AwakeStatus
    from engine.types import JobInfo

    label = AwakeStatus(engine)
    qtbot.addWidget(label)
    label.show()
    qtbot.waitUntil(lambda: label._reading is None)  # the first read: no jobs
    assert label.isHidden()

    def job(status, awake=""):
        return JobInfo(1, "mascot", "smollm2", "facts", tmp_path, status, awake=awake)

    label.show_jobs([job("running", "systemd-logind")])
    assert label.isVisible() and label.text() == "☾ kept awake: training “mascot”"
    assert "systemd-logind" in label.toolTip()
    label.show_jobs([job("running")])
    assert label.text() == "training — sleep not blocked"
    label.show_jobs([job("done")])
    assert label.isHidden()
