"""The code's shape, checked: nothing under engine/ imports Qt or a front end; the front ends
(the window, the command line) use only the engine's public API — its operations, event and
record types and errors — and never reach the services behind it; no service is handed the
whole engine; and the engine's modules do not import each other in a circle.

One small scanner reads every module's syntax tree (nothing is imported) and records each import
as an edge: absolute and relative, ``import x`` and ``from x import y``, at module level, inside
functions and under ``if TYPE_CHECKING:``. The rules are questions asked of that graph. Every
rule is also asked of a copy of the engine with a deliberate violation added, and must name it,
so each test shows on every run that it can fail.

A small scanner rather than import-linter: the cycle rule needs to tell an import that runs
when a module loads from one inside a function, which import-linter's graph does not record,
and its one cycle contract (acyclic_siblings) compares whole sibling packages, a stricter rule
than the one stated here. A hundred lines of ``ast`` keep every rule visible in this file, with no
dependency to install.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "desktop")
# The front ends: the window, the command line and the OpenAI-compatible server.
FRONT_ENDS = ("desktop", "engine.cli", "engine.server")
# A front end may start another one, and nothing else of it: the `tailor` command chooses the
# window or the command line; the window and `tailor serve` host the server.
# The `tailor` command also starts the installed app's own workers (engine.runtime).
STARTS = {"desktop.launcher": ("engine.cli", "engine.runtime"), "desktop": ("engine.server",)}
STARTS |= {"engine.cli": ("engine.server",)}
# What a front end may import from the engine: the operations, events, records and errors.
PUBLIC = ("engine.api", "engine.events", "engine.types", "engine.errors")
# What a front end may not touch on an engine: the services behind the operations, by the
# names Engine's composition root gives them.
SERVICES = (
    "services",
    "workspace",
    "models",
    "assistants",
    "examples",
    "conversations",
    "embedder",
    "few_shot",
    "knowledge",
    "eval_sets",
    "evals",
    "datasets",
    "adapters",
    "jobs",
    "raft",
    "generation",
)


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, e.g. "engine.evaluation.runs"
    imported: str  # the absolute name imported, e.g. "engine.finetune.raft" or "PySide6.QtCore"
    file: str  # relative to the root scanned, e.g. "engine/evaluation/runs.py"
    line: int
    when: str  # "load" (runs as the module loads), "call" (inside a function) or "typing"

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.imported}"


def modules(root: Path, packages: tuple[str, ...] = ("engine", "desktop")) -> dict[str, Path]:
    """Every module of the given top-level packages under ``root``, by dotted name."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(root: Path, packages: tuple[str, ...] = ("engine", "desktop")) -> list[Import]:
    """Every import statement in those packages, resolved to absolute names."""
    known = modules(root, packages)
    found = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, when in _walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    # A relative import counts up from the importing module's package.
                    parts = package.split(".")
                    up = parts[: max(len(parts) - node.level + 1, 0)]
                    base = ".".join([*up, base] if base else up)
                # ``from package import module`` imports that module; ``from module import
                # name`` the module only.
                targets = []
                for alias in node.names:
                    full = f"{base}.{alias.name}" if base else alias.name
                    targets.append(full if full in known or not base else base)
            file = path.relative_to(root).as_posix()
            found += [Import(name, t, file, node.lineno, when) for t in targets]
    return found


def _walk(tree: ast.AST, when: str = "load"):
    """Each import node with when it runs: as the module loads, when a function is called, or
    never (under ``if TYPE_CHECKING:``, for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, when
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _walk(ast.Module(node.body, []), "typing")
            yield from _walk(ast.Module(node.orelse, []), when)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(node, "call" if when == "load" else when)
        else:
            yield from _walk(node, when)


def forbidden_imports(graph: list[Import], package: str = "engine") -> list[str]:
    """Imports of Qt or of a front end (the desktop package, the command line) by ``package``'s
    other modules, wherever the import stands: in a function or for type checking too."""
    return [
        str(i)
        for i in graph
        if _within(i.importer, package)
        and (
            i.imported.split(".")[0] in FORBIDDEN
            or any(
                _within(i.imported, f) and not _within(i.importer, f) and not _starts(i)
                for f in FRONT_ENDS
            )
        )
    ]


def _starts(i: Import) -> bool:
    """Whether the import is one front end starting another (see STARTS): the package itself
    is imported, never a module inside it."""
    return any(
        _within(i.importer, starter) and i.imported in started
        for starter, started in STARTS.items()
    )


def modules_loaded_with_the_engine(root: Path) -> list[str]:
    """Qt and desktop modules present after importing every engine module in a fresh
    interpreter: what the syntax tree cannot show, such as a library that imports Qt itself."""
    names = list(modules(root, ("engine",)))
    code = (
        "import importlib, json, sys\n"
        f"for m in {names!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(json.dumps([sys.modules['engine'].__file__, sorted(bad)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    engine_file, bad = json.loads(done.stdout.splitlines()[-1])
    assert Path(engine_file).is_relative_to(root), engine_file  # the copy, not the installed one
    return bad


def cycles(graph: list[Import], package: str = "engine") -> list[list[str]]:
    """Groups of ``package``'s modules that import each other, directly or through others.

    Imports at module level and inside functions both count. A function-level import only puts
    off the moment a circle closes: the two modules still cannot be understood, tested or moved
    without each other (the issue's example, evaluation.runs and finetune.raft, was such a
    circle). Imports under ``if TYPE_CHECKING:`` never run and name types only; they do not
    count. Lazy imports of heavy libraries for start-up time are unaffected: they are no edge
    between two engine modules in a circle.
    """
    edges: dict[str, set[str]] = {}
    for i in graph:
        counts = i.when != "typing" and i.imported != i.importer
        if counts and _within(i.importer, package) and _within(i.imported, package):
            edges.setdefault(i.importer, set()).add(i.imported)
    return sorted(sorted(group) for group in _strongly_connected(edges) if len(group) > 1)


def engine_modules_used_by_front_ends(graph: list[Import]) -> dict[str, list[str]]:
    """Which engine modules each front end imports (its own modules aside)."""
    used: dict[str, set[str]] = {}
    for i in graph:
        front = next((f for f in FRONT_ENDS if _within(i.importer, f)), None)
        if front and _within(i.imported, "engine") and not _within(i.imported, front):
            used.setdefault(front, set()).add(i.imported)
    return {front: sorted(names) for front, names in sorted(used.items())}


def front_end_imports_beyond_the_api(graph: list[Import]) -> list[str]:
    """Imports by a front end of any engine module outside the public API (the window
    importing the command line counts too), wherever the import stands."""
    return [
        str(i)
        for i in graph
        if any(_within(i.importer, f) for f in FRONT_ENDS)
        and _within(i.imported, "engine")
        and not any(_within(i.imported, p) for p in PUBLIC)
        and not any(_within(i.importer, f) and _within(i.imported, f) for f in FRONT_ENDS)
        and not _starts(i)
    ]


def front_ends_reaching_past_the_operations(root: Path) -> list[str]:
    """Places where a front end touches what stands behind the operations: an engine's
    services (``engine.services``, ``self.engine.knowledge``, ``engine.workspace`` …)."""
    found = []
    for name, path in modules(root, ("desktop", "engine")).items():
        if not any(_within(name, f) for f in FRONT_ENDS):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Attribute) or node.attr not in SERVICES:
                continue
            owner = node.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if node.attr == "services" or owner_name == "engine":
                found.append(f"{path.relative_to(root).as_posix()}:{node.lineno} .{node.attr}")
    return found


def services_given_the_engine(graph: list[Import]) -> list[str]:
    """Engine modules, the front ends aside, that import the engine's door (``engine.api``)
    or its composition root (``engine.services``, which only the door and its operations
    use): a service takes its collaborators, never the whole engine."""
    door = ("engine.api", "engine.operations")
    return [
        str(i)
        for i in graph
        if _within(i.importer, "engine")
        and not any(_within(i.importer, f) for f in FRONT_ENDS)
        and (
            (_within(i.imported, "engine.api") and i.importer != "engine.api")
            or (
                _within(i.imported, "engine.services")
                and not any(_within(i.importer, d) for d in door)
            )
        )
    ]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _strongly_connected(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """The groups of nodes that all reach each other (a node alone is a group of one)."""
    reaches = {}
    for start in edges:
        seen, todo = set(), [start]
        while todo:
            for after in edges.get(todo.pop(), ()):
                if after not in seen:
                    seen.add(after)
                    todo.append(after)
        reaches[start] = seen
    return {frozenset({n} | {m for m in reaches[n] if n in reaches.get(m, ())}) for n in reaches}


# -- the rules, on the code as it is --------------------------------------------------------


def test_no_engine_module_imports_qt_or_a_front_end():
    assert forbidden_imports(imports(ROOT)) == []


def test_importing_the_whole_engine_loads_no_qt_or_front_end():
    assert modules_loaded_with_the_engine(ROOT) == []


def test_the_engine_has_no_import_cycles():
    assert cycles(imports(ROOT)) == []


def test_front_ends_import_only_the_public_api():
    assert front_end_imports_beyond_the_api(imports(ROOT)) == []


def test_front_ends_use_only_the_operations():
    assert front_ends_reaching_past_the_operations(ROOT) == []


def test_no_service_is_handed_the_whole_engine():
    assert services_given_the_engine(imports(ROOT)) == []


# -- the same rules, shown to fail on a sabotaged copy ----------------------------------------


def sabotaged(tmp_path: Path, changes: dict[str, str]) -> tuple[Path, dict[str, int]]:
    """A copy of engine/ and desktop/ with each change's code appended to its file (a new file
    if there is none), and the line number of each change's last line."""
    root = tmp_path / "copy"
    for package in ("engine", "desktop"):
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    lines = {}
    for file, code in changes.items():
        old = (root / file).read_text() if (root / file).exists() else ""
        text = old.rstrip("\n") + "\n\n" + code
        (root / file).write_text(text)
        lines[file] = len(text.splitlines())
    return root, lines


def test_the_import_rule_names_every_kind_of_forbidden_import(tmp_path):
    changes = {
        "engine/workspace.py": "def _later():\n    from PySide6 import QtCore\n",
        "engine/api.py": "from .. import desktop\n",
        "engine/evaluation/runs.py": "from ...desktop.main_window import MainWindow\n",
        "engine/knowledge/__init__.py": "from desktop import app\n",
        "engine/storage.py": "import json, shiboken6\n",
        "engine/records.py": "if TYPE_CHECKING:\n    import PySide6.QtWidgets as widgets\n",
        "engine/synthetic.py": "from . import cli\n",
    }
    root, line = sabotaged(tmp_path, changes)
    assert sorted(forbidden_imports(imports(root))) == sorted(
        [
            f"engine/workspace.py:{line['engine/workspace.py']} PySide6",
            f"engine/api.py:{line['engine/api.py']} desktop",
            f"engine/evaluation/runs.py:{line['engine/evaluation/runs.py']} desktop.main_window",
            f"engine/knowledge/__init__.py:{line['engine/knowledge/__init__.py']} desktop.app",
            f"engine/storage.py:{line['engine/storage.py']} shiboken6",
            f"engine/records.py:{line['engine/records.py']} PySide6.QtWidgets",
            f"engine/synthetic.py:{line['engine/synthetic.py']} engine.cli",
        ]
    )


def test_the_runtime_check_sees_qt_and_the_window_loaded(tmp_path):
    root, _ = sabotaged(
        tmp_path,
        {
            "engine/workspace.py": "from PySide6 import QtCore\n",
            "engine/api.py": "import desktop\n",
        },
    )
    assert {"PySide6.QtCore", "desktop"} <= set(modules_loaded_with_the_engine(root))


@pytest.mark.parametrize(
    ("file", "code", "circle"),
    [
        # At module level, absolute, ``from package import module``.
        ("engine/workspace.py", "from engine import api\n", {"engine.workspace", "engine.api"}),
        # Inside a function, relative: the circle closes the first time it is called.
        (
            "engine/errors.py",
            "def _later():\n    from . import workspace\n",
            {"engine.errors", "engine.workspace"},
        ),
    ],
)
def test_the_cycle_rule_finds_a_circle(tmp_path, file, code, circle):
    def in_a_cycle(root: Path) -> bool:
        return any(circle <= set(group) for group in cycles(imports(root)))

    assert not in_a_cycle(ROOT)
    assert in_a_cycle(sabotaged(tmp_path, {file: code})[0])


def test_imports_for_type_checking_close_no_circle(tmp_path):
    code = "if TYPE_CHECKING:\n    from engine.storage import check_name\n"
    root, _ = sabotaged(tmp_path, {"engine/errors.py": code})
    assert cycles(imports(root)) == cycles(imports(ROOT))


def test_the_front_end_rules_name_every_reach_past_the_api(tmp_path):
    changes = {
        "engine/added.py": "",
        "desktop/app.py": "def _later():\n    from ..engine import added\n",
        "engine/cli/__init__.py": "from ..knowledge.bases import KnowledgeBases\n",
        "desktop/history.py": "def _later(self):\n    return self.engine.knowledge.names()\n",
        "engine/cli/models.py": "def _later(engine):\n    return engine.services, engine.workspace\n",  # noqa: E501
        "desktop/state.py": "from engine.cli import main\n",
        # The window may start the server, never reach into it.
        "desktop/errors.py": "from engine.server.app import anything\n",
    }
    root, line = sabotaged(tmp_path, changes)
    graph = imports(root)

    def added(rule, before, after):  # what the sabotage adds, whatever the code has today
        return sorted(set(rule(after)) - set(rule(before)))

    assert added(front_end_imports_beyond_the_api, imports(ROOT), graph) == sorted(
        [
            f"desktop/app.py:{line['desktop/app.py']} engine.added",
            f"engine/cli/__init__.py:{line['engine/cli/__init__.py']} engine.knowledge.bases",
            f"desktop/state.py:{line['desktop/state.py']} engine.cli",
            f"desktop/errors.py:{line['desktop/errors.py']} engine.server.app",
        ]
    )
    assert "engine.added" in engine_modules_used_by_front_ends(graph)["desktop"]
    models = line["engine/cli/models.py"]
    assert added(front_ends_reaching_past_the_operations, ROOT, root) == sorted(
        [
            f"desktop/history.py:{line['desktop/history.py']} .knowledge",
            f"engine/cli/models.py:{models} .services",
            f"engine/cli/models.py:{models} .workspace",
        ]
    )


def test_the_rule_sees_a_service_handed_the_engine(tmp_path):
    changes = {
        "engine/evaluation/runs.py": "def _later():\n    from engine.api import Engine\n",
        "engine/raft/builds.py": "from ..services import Services\n",
    }
    root, line = sabotaged(tmp_path, changes)
    before, after = set(services_given_the_engine(imports(ROOT))), imports(root)
    assert sorted(set(services_given_the_engine(after)) - before) == sorted(
        [
            f"engine/evaluation/runs.py:{line['engine/evaluation/runs.py']} engine.api",
            f"engine/raft/builds.py:{line['engine/raft/builds.py']} engine.services",
        ]
    )
