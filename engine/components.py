"""Optional components: what the installed app adds when it is first asked for.

The installed app's core (chat, examples, knowledge bases, evaluation, serving) carries no torch
and no CUDA. Fine-tuning and RAFT training need torch, Unsloth and their dependencies: the
"training" component. It is installed with pip, from the pinned set in
``resources/components/training.lock`` (the versions Tailor is tested with), into a folder of the
user's own (``<data dir>/components/training/py311``), never into the app:

* **matched to the machine**: PyTorch's CUDA build where an NVIDIA GPU and driver answer
  (``nvidia-smi``), its CPU build (PyTorch's CPU index) otherwise;
* **resumable**: wheels are downloaded into the component's ``wheels`` folder first, one file at
  a time, and a download that was stopped or cut off starts again where it stopped (the files
  already there are kept); they are installed only when all are there, into a new folder that
  replaces the old one whole;
* **offline**: given a folder of wheels the user brought (``--wheels DIR``) nothing is downloaded;
* **checked**: after installing, a new process imports torch and Unsloth from the component and
  says whether the GPU is usable; a failure says what to do (install again with ``--repair``,
  ``--cpu``, or check the driver).

A worker that trains (``engine.runtime``) puts the component first on its path. From a checkout
the developer's set-up installs everything in the virtual environment, and the component counts
as built in.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import NotFound, TailorError
from engine.events import CancelToken, Progress, operation
from engine.runtime import FROZEN, component_folder, components_root, module_command
from engine.runtime import activate as runtime_activate

NAMES = ("training",)
TITLES = {"training": "Fine-tuning and RAFT training (PyTorch, Unsloth)"}
# What the component's check imports; missing any, the component is not there.
MODULES = {"training": ("torch", "unsloth", "transformers", "trl", "peft", "datasets")}
# Packages of the pinned set that only PyTorch's CUDA build needs.
CUDA_ONLY = re.compile(r"^(nvidia-|cuda-)")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class ComponentStatus:
    """Where a component stands: ``state`` is "built in" (a checkout's environment has it),
    "installed", "partial" (wheels downloaded, not installed yet) or "missing"."""

    name: str
    title: str
    state: str
    folder: str
    flavour: str = ""
    torch: str = ""
    gpu: str = ""
    gpu_usable: bool = False
    size_bytes: int = 0
    download_bytes: int = 0
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.state in ("built in", "installed")


def _check(name: str) -> str:
    if name not in NAMES:
        raise NotFound(f"No component named '{name}'. Components: {', '.join(NAMES)}.")
    return name


def root() -> Path:
    return components_root()


def folder(name: str) -> Path:
    """One component's folder, for this Python (its wheels are built for one)."""
    return component_folder(_check(name))


def site_dir(name: str) -> Path:
    return folder(name) / "site-packages"


def lock_file(name: str) -> Path:
    """The pinned set: beside the code in a checkout, inside the app when installed."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
    return base / "resources" / "components" / f"{_check(name)}.lock"


def pinned(name: str) -> list[str]:
    """The lock's ``name==version`` lines."""
    lines = lock_file(name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def machine_flavour() -> tuple[str, str]:
    """("cuda", GPU name) where an NVIDIA GPU and its driver answer, else ("cpu", "")."""
    from engine.finetune.hardware import nvidia_gpu

    found = nvidia_gpu()
    return ("cuda", found[0]) if found else ("cpu", "")


def requirements(name: str, flavour: str) -> list[str]:
    """The pinned set for ``flavour``: on the CPU without the CUDA build's own packages, with
    PyTorch's CPU index first (its ``+cpu`` build satisfies the same pins)."""
    lines = pinned(name)
    if flavour == "cpu":
        lines = [ln for ln in lines if not CUDA_ONLY.match(ln.split("==")[0].lower())]
    return lines


def _marker(name: str) -> Path:
    return folder(name) / "installed.json"


def built_in(name: str) -> bool:
    """Whether this process's own environment has the component (a checkout's set-up)."""
    if FROZEN:
        return False
    return all(importlib.util.find_spec(m) is not None for m in MODULES[_check(name)])


def _size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def status(name: str) -> ComponentStatus:
    """Where ``name`` stands (reads files only: quick)."""
    _check(name)
    where = folder(name)
    if _marker(name).is_file() and site_dir(name).is_dir():
        info = json.loads(_marker(name).read_text())
        return ComponentStatus(
            name,
            TITLES[name],
            "installed",
            str(where),
            info.get("flavour", ""),
            info.get("torch", ""),
            info.get("gpu", ""),
            bool(info.get("gpu_usable")),
            int(info.get("size_bytes", 0)),
            message=info.get("message", ""),
        )
    if built_in(name):
        return ComponentStatus(name, TITLES[name], "built in", sys.prefix)
    wheels = where / "wheels"
    if wheels.is_dir() and any(wheels.glob("*.whl")):
        return ComponentStatus(
            name,
            TITLES[name],
            "partial",
            str(where),
            download_bytes=_size(wheels),
            message="Downloaded in part: installing again resumes.",
        )
    return ComponentStatus(name, TITLES[name], "missing", str(where))


def activate(name: str) -> bool:
    """Put an installed component first on this process's path (see engine.runtime)."""
    return runtime_activate(_check(name))


def _pip(args: list[str], cancel: CancelToken | None, on_line) -> None:
    """Run pip (this app's own: ``python -m pip``, or the installed app's) and hand each line
    of its output to ``on_line``; a stop kills it."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        module_command("pip", *args, "--progress-bar", "off"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    tail: list[str] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.rstrip()
            if "is ignored: it is neither a file nor a directory" in line:
                continue
            tail = ([*tail, line])[-12:]
            on_line(line)
            if cancel is not None and cancel.cancelled:
                proc.kill()
                break
    finally:
        code = proc.wait()
    if cancel is not None and cancel.cancelled:
        return
    if code != 0:
        raise TailorError("pip could not finish:\n" + "\n".join(tail))


@operation
def install(
    name: str,
    *,
    wheels: Path | None = None,
    flavour: str | None = None,
    repair: bool = False,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, ComponentStatus]:
    """Download (unless ``wheels`` names a folder the user brought), install and check the
    component: an operation with phases "downloading" (``done`` of ``total`` packages),
    "installing" and "checking". Stopped, what was downloaded stays and the next install goes
    on from there. ``repair`` downloads and installs everything again."""
    _check(name)
    if flavour is None:
        flavour, _gpu = machine_flavour()
    if flavour not in ("cpu", "cuda"):
        raise TailorError("The flavour is 'cpu' or 'cuda'.")
    where = folder(name)
    where.mkdir(parents=True, exist_ok=True)
    reqs = requirements(name, flavour)
    req_file = where / f"requirements-{flavour}.txt"
    req_file.write_text("\n".join(reqs) + "\n")
    total = len(reqs)
    if wheels is not None:
        wheels = Path(wheels).expanduser().resolve()
        if not wheels.is_dir():
            raise NotFound(f"There is no folder {wheels} of wheels.")
        source = ["--no-index", "--find-links", str(wheels)]
    else:
        cache = where / "wheels"
        if repair and cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(exist_ok=True)
        index = (
            ["--extra-index-url", CPU_INDEX] if flavour == "cpu" and _reachable(CPU_INDEX) else []
        )
        count = [0]
        progress: list[Progress] = []

        def on_download(line: str) -> None:
            text = line.strip()
            if text.startswith(("Saved", "File was already downloaded")):
                count[0] += 1  # one package's file is here (the pinned set names each)
            elif not text.startswith(("Collecting", "Processing", "Downloading")):
                return
            label = text if len(text) < 160 else text[:157] + "…"
            progress.append(Progress("downloading", min(count[0], total), total, None, label))

        yield Progress("downloading", 0, total, None, f"Downloading {total} packages")
        yield from _drain(
            ["download", "--only-binary", ":all:", "-d", str(cache), *index, "-r", str(req_file)],
            cancel,
            on_download,
            progress,
        )
        if cancel is not None and cancel.cancelled:
            return status(name)
        source = ["--no-index", "--find-links", str(cache)]

    yield Progress("installing", 0, total, None, f"Installing {total} packages into {where}")
    staging = where / "site-packages.new"
    if staging.exists():
        shutil.rmtree(staging)
    done: list[Progress] = []

    def on_install(line: str) -> None:
        if line.startswith(("Processing", "Collecting")):
            done.append(Progress("installing", min(len(done) + 1, total), total, None, line))

    yield from _drain(
        [
            "install",
            "--only-binary",
            ":all:",
            "--target",
            str(staging),
            *source,
            "-r",
            str(req_file),
        ],
        cancel,
        on_install,
        done,
    )
    if cancel is not None and cancel.cancelled:
        shutil.rmtree(staging, ignore_errors=True)
        return status(name)
    # Replace the old install whole: a half-installed folder is never the one that runs.
    _marker(name).unlink(missing_ok=True)
    old = site_dir(name)
    if old.exists():
        shutil.rmtree(old)
    staging.rename(old)

    yield Progress("checking", 0, 1, None, "Checking that torch and Unsloth load")
    check = verify(name)
    info = {
        "flavour": flavour,
        "torch": check.get("torch", ""),
        "cuda": check.get("cuda"),
        "gpu": check.get("gpu", ""),
        "gpu_usable": bool(check.get("gpu_usable")),
        "size_bytes": _size(old),
        "installed_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "message": _advice(flavour, check),
    }
    if check.get("error"):
        raise TailorError(
            f"The training component was installed but does not load: {check['error']}\n"
            f"{info['message']}"
        )
    _marker(name).write_text(json.dumps(info, indent=1))
    if wheels is None:
        # The wheels served their purpose; the installed folder is what stays.
        shutil.rmtree(where / "wheels", ignore_errors=True)
    return status(name)


def _reachable(url: str) -> bool:
    """Whether an index answers at all (pip would retry an unreachable one for every package)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except Exception:
        return False


def _drain(args, cancel, on_line, queue: list[Progress]) -> Generator[Progress, None, None]:
    """Run pip on a thread and pass on the progress its lines make, as they come."""
    import threading

    error: list[BaseException] = []

    def work() -> None:
        try:
            _pip(args, cancel, on_line)
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    sent = 0
    while thread.is_alive() or sent < len(queue):
        thread.join(0.2)
        while sent < len(queue):
            yield queue[sent]
            sent += 1
    if error:
        raise error[0]


def _advice(flavour: str, check: dict) -> str:
    if check.get("error"):
        return (
            "Install it again with a fresh download (`tailor components install training "
            "--repair`, or Repair on the Fine-tune page)."
        )
    if flavour == "cuda" and not check.get("gpu_usable"):
        return (
            f"torch {check.get('torch')} cannot use the GPU: {check.get('gpu_error') or 'no CUDA'}"
            ". Check the NVIDIA driver (`nvidia-smi`), then Repair; or install the CPU build "
            "(`tailor components install training --cpu --repair`)."
        )
    if flavour == "cpu" and check.get("cuda"):
        return (
            f"PyTorch's CPU index was not reachable, so its CUDA build {check.get('torch')} was "
            "installed; it trains on the CPU, but takes a few GB more than the CPU build."
        )
    return "Ready: training runs on " + (check.get("gpu") or "the CPU") + "."


def verify(name: str) -> dict:
    """Import the component in a new process, as a training worker would: torch's version and
    CUDA build, whether the GPU is usable, and whether Unsloth loads."""
    proc = subprocess.run(
        module_command("engine.components", "check", name),
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, TAILOR_COMPONENTS=str(root()), UNSLOTH_DISABLE_STATISTICS="1"),
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": (proc.stderr.strip().splitlines() or ["it exited with no answer"])[-1]}


def remove(name: str) -> Path:
    """Delete an installed component; where it was."""
    where = folder(name)
    if where.exists():
        shutil.rmtree(where)
    return where


def _self_check(name: str) -> dict:
    """Run in the checking process, with the component first on the path (it has no marker
    yet: the marker is written once this check passes)."""
    site = str(site_dir(name))
    if site not in sys.path:
        sys.path.insert(0, site)
    out: dict = {}
    try:
        import torch

        out["torch"] = torch.__version__
        out["cuda"] = torch.version.cuda
        out["gpu_usable"] = False
        if torch.cuda.is_available():
            try:
                x = torch.ones(4, device="cuda")
                out["gpu_usable"] = float((x * 2).sum()) == 8.0
                out["gpu"] = torch.cuda.get_device_name(0)
            except Exception as exc:  # a driver that answers nvidia-smi but not CUDA
                out["gpu_error"] = str(exc).splitlines()[0]
        from engine import quiet

        quiet.quiet_ml_imports()
        import unsloth

        out["unsloth"] = getattr(unsloth, "__version__", "")
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "check":
        print(json.dumps(_self_check(argv[1])), flush=True)
        return 0
    print("usage: python -m engine.components check NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
