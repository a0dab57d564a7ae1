"""The training component (engine/components.py): a checkout has it built in; the installed app
installs it with pip from the pinned set — downloading first, so a stopped install resumes, or
offline from a folder of wheels — checks it in a new process, and refuses to train, clearly,
while it is missing.

The real component is 109 packages and several GB, so the install tests give pip a pinned set
of two small wheels made here (the one stand-in); pip, the download folder, the install into
the component's own folder, the check in a new process (which imports torch and Unsloth) and
the path a training worker gets are the real ones. The package test installs the real set into
the installed app (installers/linux/test-package.sh, README)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from engine import components
from engine.errors import ComponentMissing, NotFound
from engine.events import Progress, run


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel holding ``name/__init__.py`` with ``VERSION``."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'VERSION = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    target = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
        z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


@pytest.fixture
def component_home(tmp_path, monkeypatch):
    """An empty place for components, and a pinned set of two small wheels."""
    monkeypatch.setenv("TAILOR_COMPONENTS", str(tmp_path / "components"))
    monkeypatch.setattr(
        components, "requirements", lambda name, flavour: ["probe-a==1.0", "probe-b==2.0"]
    )
    source = tmp_path / "source"
    _wheel(source, "probe_a", "1.0")
    _wheel(source, "probe_b", "2.0")
    return source


def test_a_checkout_has_the_training_component_built_in(engine):
    status = engine.component_status("training")
    assert status.state == "built in" and status.ready
    assert [s.name for s in engine.components()] == ["training"]
    with pytest.raises(NotFound, match="No component named 'gpu'"):
        engine.component_status("gpu")


def test_the_pinned_set_is_the_one_the_suite_runs_with():
    pins = dict(line.split("==") for line in components.pinned("training"))
    assert {"torch", "unsloth", "transformers", "trl", "peft", "datasets"} <= set(pins)
    for name, version in pins.items():
        assert metadata.version(name).split("+")[0] == version, name
    cpu = components.requirements("training", "cpu")
    assert any(r.startswith("torch==") for r in cpu)
    assert not any(r.startswith(("nvidia-", "cuda-")) for r in cpu)
    assert len(components.requirements("training", "cuda")) == len(pins)


def test_install_downloads_then_installs_resumes_and_checks(engine, component_home, monkeypatch):
    """The network's index is a local folder here (pip's own settings); one wheel was
    downloaded by an earlier, stopped install and is not fetched again."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(component_home))
    monkeypatch.setattr(components, "built_in", lambda name: False)  # as in the installed app
    cache = components.folder("training") / "wheels"
    cache.mkdir(parents=True)
    (cache / "probe_a-1.0-py3-none-any.whl").write_bytes(
        (component_home / "probe_a-1.0-py3-none-any.whl").read_bytes()
    )
    assert engine.component_status("training").state == "partial"

    events: list[Progress] = []
    status = run(engine.install_component("training", flavour="cpu"), events.append)

    assert [p for p in ("downloading", "installing", "checking") if p in {e.phase for e in events}]
    assert any("already downloaded" in e.label for e in events), [e.label for e in events]
    assert status.state == "installed" and status.flavour == "cpu"
    # The check ran in a new process with this environment's torch and Unsloth.
    import torch

    assert status.torch == torch.__version__
    site = components.site_dir("training")
    assert (site / "probe_a" / "__init__.py").is_file()
    assert (site / "probe_b" / "__init__.py").is_file()
    assert not cache.exists()  # the downloads are gone once installed
    # A training worker gets the component first on its path.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from engine import components; "
            "components.activate('training'); import probe_b; print(probe_b.VERSION)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "2.0"
    assert engine.remove_component("training") == components.folder("training")
    assert engine.component_status("training").state == "missing"


def test_install_from_a_folder_of_wheels_needs_no_network(engine, component_home, monkeypatch):
    # No index at all: anything pip tried to fetch would fail.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setattr(components, "verify", lambda name: {"torch": "2.x", "cuda": None})
    status = run(engine.install_component("training", wheels=component_home, flavour="cpu"))
    assert status.state == "installed"
    assert (components.site_dir("training") / "probe_a").is_dir()
    with pytest.raises(NotFound, match="no folder"):
        run(engine.install_component("training", wheels=component_home / "missing"))


def test_a_component_that_does_not_load_says_how_to_repair(engine, component_home, monkeypatch):
    monkeypatch.setattr(components, "verify", lambda name: {"error": "ImportError: no torch"})
    with pytest.raises(Exception, match=r"does not load: ImportError: no torch(.|\n)*--repair"):
        run(engine.install_component("training", wheels=component_home, flavour="cpu"))
    assert engine.component_status("training").state != "installed"


def test_training_without_the_component_is_refused_clearly(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("TAILOR_COMPONENTS", str(tmp_path / "none"))
    monkeypatch.setattr(components, "built_in", lambda name: False)
    assert engine.component_status("training").state == "missing"
    with pytest.raises(ComponentMissing, match="needs the training component"):
        engine.start_training("a1", "smollm2-135m-instruct", "whatever")


def test_the_command_line_names_the_install_command(tmp_path, monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.setenv("TAILOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TAILOR_COMPONENTS", str(tmp_path / "none"))
    monkeypatch.setattr(components, "built_in", lambda name: False)
    assert main(["components", "status"]) == 0
    assert "training: missing" in capsys.readouterr().out
    assert main(["train", "--base", "smollm2-135m-instruct", "--name", "a1", "--data", "d"]) == 1
    err = capsys.readouterr().err
    assert "needs the training component" in err
    assert "Install it with: tailor components install training" in err


def test_the_installed_app_starts_its_workers_through_itself(monkeypatch):
    from engine import runtime

    assert runtime.module_command("engine.components", "check") == [
        sys.executable,
        "-m",
        "engine.components",
        "check",
    ]
    monkeypatch.setattr(runtime, "FROZEN", True)
    assert runtime.module_command("pip", "install") == [
        sys.executable,
        "--tailor-module",
        "pip",
        "install",
    ]
    assert runtime.run_worker(["tailor", "chat"]) is False


def test_the_fine_tune_page_offers_the_install_and_hides_it_once_done(
    engine, qtbot, component_home, monkeypatch
):
    """The window's path: the bar says what is missing, Install runs the engine's install with
    progress, and the bar goes once the component is there."""
    from desktop.main_window import MainWindow

    monkeypatch.setattr(components, "built_in", lambda name: False)
    monkeypatch.setattr(components, "verify", lambda name: {"torch": "2.x", "cuda": None})
    w = MainWindow(engine)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.show_page("finetune")
    bar = w.pages["finetune"].component_bar
    assert bar.isVisible()
    assert "Fine-tuning needs extra components" in bar.text.text()
    job = bar.start(component_home)
    assert bar.progress.isVisible() and bar.stop.isVisible()
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    assert not bar.isVisible()
    assert engine.component_status("training").state == "installed"
