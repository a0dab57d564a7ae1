"""The Windows and macOS recipes, checked as far as a Linux machine can check them.

These are consistency checks, NOT proof that the recipes build or that the installers work:
no Windows or macOS machine was at hand, so installers/windows/build.ps1, tailor.iss and
installers/macos/build.sh have never been run. What is checked here: the PyInstaller spec,
evaluated for each system with PyInstaller's build steps recorded instead of run, makes what
the installers expect (tailor.exe and tailor-cli.exe on Windows, Tailor.app with the .gguf type
on macOS, the Linux build unchanged); the Inno Setup script's sections, registry entries and
paths agree with the spec and with platformdirs; the entitlements parse; the macOS script passes
``bash -n``; every build script names the one spec; the committed icon is the SVG's. Then the
code the recipes rely on that can run here: the parser worker's Windows way of reading replies
(a thread, no select() on pipes) and macOS's open-document event reaching the window.
"""

from __future__ import annotations

import builtins
import io
import os
import plistlib
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "installers" / "pyinstaller" / "tailor.spec"
ISS = ROOT / "installers" / "windows" / "tailor.iss"
PS1 = ROOT / "installers" / "windows" / "build.ps1"
MAC = ROOT / "installers" / "macos" / "build.sh"
ENTITLEMENTS = ROOT / "installers" / "macos" / "entitlements.plist"
ICO = ROOT / "installers" / "windows" / "tailor.ico"


# -- the PyInstaller spec, per system ---------------------------------------------------------


class _Target:
    """What one of PyInstaller's build steps (Analysis, PYZ, EXE, COLLECT, BUNDLE) was given."""

    def __init__(self, kind, made, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.scripts = self.pure = self.binaries = self.datas = []
        made.append(self)


def _evaluate_spec(platform: str, export: Path) -> list[_Target]:
    """Run the spec as PyInstaller would on ``platform`` ("linux", "win32", "darwin"), with its
    build steps recorded instead of run; the targets it made."""
    made: list[_Target] = []
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_data_files = lambda *a, **k: []
    hooks.collect_dynamic_libs = lambda *a, **k: []
    hooks.collect_submodules = lambda *a, **k: []
    hooks.copy_metadata = lambda *a, **k: []
    fake_sys = types.ModuleType("sys")
    fake_sys.__dict__.update(sys.__dict__)
    fake_sys.platform = platform
    real_import = builtins.__import__

    def importer(name, *args, **kwargs):
        if name == "sys":
            return fake_sys
        if name == "PyInstaller.utils.hooks":
            return hooks
        return real_import(name, *args, **kwargs)

    def step(kind):
        return lambda *args, **kwargs: _Target(kind, made, *args, **kwargs)

    namespace = {
        "__builtins__": dict(vars(builtins), __import__=importer),
        "SPECPATH": str(SPEC.parent),
        **{kind: step(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
    }
    old = os.environ.get("TAILOR_EMBEDDER_EXPORT")
    os.environ["TAILOR_EMBEDDER_EXPORT"] = str(export)
    try:
        exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    finally:
        if old is None:
            del os.environ["TAILOR_EMBEDDER_EXPORT"]
        else:
            os.environ["TAILOR_EMBEDDER_EXPORT"] = old
    return made


@pytest.fixture
def export(tmp_path):
    folder = tmp_path / "embedders"
    folder.mkdir()
    (folder / "all-MiniLM-L6-v2-bundled.onnx").write_bytes(b"stand-in")
    return folder


def _executables(made):
    return {t.kwargs["name"]: t for t in made if t.kind == "EXE"}


def _collected(made):
    (collect,) = [t for t in made if t.kind == "COLLECT"]
    return [a.kwargs["name"] for a in collect.args if isinstance(a, _Target) and a.kind == "EXE"]


def test_the_spec_makes_one_console_program_on_linux(export):
    made = _evaluate_spec("linux", export)
    exes = _executables(made)
    assert list(exes) == ["tailor"] and exes["tailor"].kwargs["console"] is True
    assert exes["tailor"].args[2] == []  # no interpreter options
    assert _collected(made) == ["tailor"]
    assert not [t for t in made if t.kind == "BUNDLE"]


def test_the_spec_makes_the_window_and_the_command_line_on_windows(export):
    made = _evaluate_spec("win32", export)
    exes = _executables(made)
    assert exes["tailor"].kwargs["console"] is False  # the window: no console flashing up
    assert exes["tailor-cli"].kwargs["console"] is True
    assert _collected(made) == ["tailor", "tailor-cli"]  # one folder, one _internal
    for exe in exes.values():  # UTF-8 mode: files and pipes in UTF-8, not the ANSI code page
        assert ("X utf8", None, "OPTION") in exe.args[2]
    assert exes["tailor"].kwargs["icon"] == str(ICO)  # the committed icon is found


def test_the_spec_makes_a_foreground_app_bundle_that_opens_gguf_on_macos(export):
    made = _evaluate_spec("darwin", export)
    # console=True would make PyInstaller write LSBackgroundOnly: no Dock icon, no menu bar.
    assert _executables(made)["tailor"].kwargs["console"] is False
    (bundle,) = [t for t in made if t.kind == "BUNDLE"]
    assert bundle.kwargs["name"] == "Tailor.app"
    plist = bundle.kwargs["info_plist"]
    assert "LSBackgroundOnly" not in plist
    assert ["gguf"] in [d["CFBundleTypeExtensions"] for d in plist["CFBundleDocumentTypes"]]


# -- the Inno Setup script ------------------------------------------------------------------


def _iss_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for raw in ISS.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(";") or (line.startswith("#") and current != "Code"):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            current = m.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def _entry(line: str) -> dict[str, str]:
    """An Inno Setup entry line ``Name: "value"; Name: value`` as a dict ("" inside a quoted
    value is one ")."""
    fields = {}
    for m in re.finditer(r'(\w+):\s*("(?:[^"]|"")*"|[^;]*)', line):
        value = m.group(2).strip()
        if value.startswith('"'):
            value = value[1:-1].replace('""', '"')
        fields[m.group(1)] = value
    return fields


def test_the_inno_setup_script_installs_what_the_spec_makes_per_user(export):
    sections = _iss_sections()
    assert {"Setup", "Files", "Icons", "Registry", "Code"} <= set(sections)
    setup = dict(line.split("=", 1) for line in sections["Setup"] if "=" in line)
    assert setup["PrivilegesRequired"] == "lowest"  # no administrator
    assert setup["DefaultDirName"] == r"{localappdata}\Programs\{#AppName}"
    assert setup["ChangesAssociations"] == "yes"
    assert (ISS.parent / setup["SetupIconFile"]).is_file()
    files = [_entry(line) for line in sections["Files"]]
    installed = {Path(f["Source"].replace("\\", "/")).name for f in files}
    made = set(_executables(_evaluate_spec("win32", export)))
    assert {f"{name}.exe" for name in made} <= installed
    shortcut = _entry(sections["Icons"][0])
    assert shortcut["Name"] == r"{autoprograms}\{#AppName}"
    assert shortcut["Filename"] == r"{app}\tailor.exe"


def test_gguf_files_open_with_the_installed_window_program():
    entries = [_entry(line) for line in _iss_sections()["Registry"]]
    by_key = {(e["Subkey"], e["ValueName"]): e for e in entries}
    assert all(e["Root"] == "HKA" for e in entries)  # the user's own classes: no administrator
    assert by_key[(r"Software\Classes\.gguf", "")]["ValueData"] == "Tailor.GGUF"
    command = r"Software\Classes\Tailor.GGUF\shell\open\command"
    # The window program (not tailor-cli), with the file as one quoted argument.
    assert by_key[(command, "")]["ValueData"] == r'"{app}\tailor.exe" "%1"'
    assert by_key[(r"Software\Classes\Tailor.GGUF\shell\open", "")]["ValueData"] == (
        "Open with Tailor"
    )


def test_the_uninstaller_names_the_folder_platformdirs_gives_the_workspace(monkeypatch):
    from platformdirs import windows

    code = "\n".join(_iss_sections()["Code"])
    assert "{localappdata}\\{#AppName}" in code and "TAILOR_HOME" in code
    # platformdirs' answer on Windows, with the shell's folder given as Windows would give it.
    monkeypatch.setattr(windows, "get_win_folder", lambda csidl: r"C:\Users\u\AppData\Local")
    data = windows.Windows("Tailor", appauthor=False).user_data_dir.replace("/", "\\")
    assert data == r"C:\Users\u\AppData\Local\Tailor"  # = {localappdata}\Tailor


# -- macOS, the scripts, the icon -------------------------------------------------------------


def test_the_entitlements_are_the_two_exceptions_and_no_more():
    entitlements = plistlib.loads(ENTITLEMENTS.read_bytes())
    assert entitlements == {
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        "com.apple.security.cs.disable-library-validation": True,
    }


def test_every_build_script_builds_from_the_one_spec():
    linux = ROOT / "installers" / "linux" / "build.sh"
    scripts = [s for s in (linux, PS1, MAC) if s.exists()]
    assert PS1 in scripts and MAC in scripts
    for script in scripts:
        text = script.read_text().replace("\\", "/")
        assert "installers/pyinstaller/tailor.spec" in text, script
        assert "engine.onnx_embedder --bundle" in text, script
        assert "opencv-python-headless" in text, script
    assert "tailor.iss" in PS1.read_text()
    mac = MAC.read_text()
    for step in (
        "iconutil",
        "codesign",
        "--options runtime",
        "entitlements.plist",
        "hdiutil",
        "notarytool submit",
        "stapler staple",
        "TAILOR_SIGN_IDENTITY",
        "TAILOR_NOTARY_PROFILE",
    ):
        assert step in mac, step
    subprocess.run(["bash", "-n", str(MAC)], check=True)


def test_the_committed_icon_is_the_svg_drawn_at_each_size(qapp):  # Qt draws the SVG
    from PIL import Image, ImageChops

    sys.path.insert(0, str(ROOT / "installers"))
    try:
        import make_icons
    finally:
        sys.path.remove(str(ROOT / "installers"))
    ico = Image.open(ICO)
    assert {16, 32, 48, 256} <= {w for w, _ in ico.info["sizes"]}
    for size in (16, 256):
        ico.size = (size, size)
        ico.load()
        fresh = Image.open(io.BytesIO(make_icons.render(size))).convert("RGBA")
        # Equal up to anti-aliasing (another Qt may round an edge pixel differently).
        difference = ImageChops.difference(ico.convert("RGBA"), fresh).getextrema()
        assert max(high for _, high in difference) <= 16, (
            f"{ICO.name} at {size} px is not the SVG: run installers/make_icons.py --ico"
        )


# -- what the recipes rely on, that runs here -------------------------------------------------


def test_the_parser_worker_reads_replies_without_select_as_on_windows(tmp_path, monkeypatch):
    from engine.knowledge import parse_worker

    monkeypatch.setattr(parse_worker, "SELECT_ON_PIPES", False)  # Windows's way, here
    monkeypatch.setattr(parse_worker, "BASE_SECONDS", 3.0)
    text = tmp_path / "herons.txt"
    text.write_text("Grey herons nest in colonies.\n" * 2000)  # more than one pipe's buffer
    stuck = tmp_path / "stuck.txt"
    os.mkfifo(stuck)  # opening it for reading waits for a writer that never comes
    with parse_worker.ParserProcess() as parser:
        sections = parser.parse(text, text.stat().st_size)
        assert "".join(s.text for s in sections).count("Grey herons") == 2000
        with pytest.raises(parse_worker.ParseFailed, match="took longer than 3 s"):
            parser.parse(stuck, 0)
        # A fresh worker (and reader) for the next file.
        assert parser.parse(text, text.stat().st_size)


def test_a_file_opened_from_finder_reaches_the_window(qtbot):
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from desktop.app import finder_files

    app = QApplication.instance()
    opened: list[Path] = []
    finder = finder_files(app, opened.append)
    try:
        QCoreApplication.sendEvent(app, QFileOpenEvent("/models/Qwen 3 4B.gguf"))
        assert opened == [Path("/models/Qwen 3 4B.gguf")]
    finally:
        app.removeEventFilter(finder)


def test_the_desktop_entries_name_a_real_program_and_icon(tmp_path):
    """The checkout's menu entry and the portable build's both fill every placeholder of the one
    template; the portable one points into its own folder, and --remove takes it away."""
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    subprocess.run(
        ["bash", str(ROOT / "installers/linux/install-desktop-entry.sh")],
        env=env,
        check=True,
        capture_output=True,
    )
    entry = (tmp_path / "data/applications/tailor.desktop").read_text()
    assert "@" not in entry
    assert f"Exec={ROOT}/tailor %F" in entry
    assert f"Icon={ROOT}/resources/icons/tailor.svg" in entry
    assert "MimeType=application/x-gguf;" in entry

    portable = tmp_path / "tailor-portable"
    (portable / "_internal/resources").mkdir(parents=True)
    shutil.copytree(ROOT / "resources/icons", portable / "_internal/resources/icons")
    shutil.copytree(ROOT / "resources/mime", portable / "_internal/resources/mime")
    shutil.copy(ROOT / "installers/linux/tailor.desktop.in", portable / "_internal/resources")
    shutil.copy(ROOT / "installers/linux/portable-install.sh", portable / "install.sh")
    subprocess.run(["bash", str(portable / "install.sh")], env=env, check=True, capture_output=True)
    entry = (tmp_path / "data/applications/tailor.desktop").read_text()
    assert f"Exec={portable}/tailor %F" in entry
    assert (portable / "_internal/resources/icons/tailor.svg").is_file()
    assert f"Icon={portable}/_internal/resources/icons/tailor.svg" in entry
    assert (tmp_path / "data/mime/packages/tailor-gguf.xml").is_file()
    out = subprocess.run(
        ["bash", str(portable / "install.sh"), "--remove"],
        env=env,
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    assert "workspace stays" in out
    assert not (tmp_path / "data/applications/tailor.desktop").exists()


def test_the_deb_scripts_keep_the_workspace_and_say_where():
    postrm = (ROOT / "installers/linux/postrm").read_text()
    assert "kept in ~/.local/share/Tailor" in postrm
    assert "rm " not in postrm  # nothing of a person's is deleted
    control = (ROOT / "installers/linux/control.in").read_text()
    assert "libxcb-cursor0" in control and "python3" not in control
    build = (ROOT / "installers/linux/build.sh").read_text()
    assert "installers/pyinstaller/tailor.spec" in build
