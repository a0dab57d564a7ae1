"""Write the training component's pinned set (resources/components/training.lock) from the
developer's environment, where the whole test suite runs: the packages the "training" extra
needs, with everything they need in turn, at the versions installed here.

    .venv/bin/python installers/lock-components.py
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOTS = ["unsloth", "sentence-transformers", "datasets", "transformers", "trl", "torch"]
# Installed with the core app already and never imported by training: left out of the set.
SKIP = {"pip", "setuptools", "wheel"}


def closure(roots: list[str]) -> dict[str, str]:
    env = default_environment()
    found: dict[str, str] = {}
    todo = [(r, frozenset()) for r in roots]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        dist = metadata.distribution(name)
        new = key not in found
        found[key] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None:
                ok = any(req.marker.evaluate({**env, "extra": e}) for e in extras | {""})
                if not ok:
                    continue
            dep = canonicalize_name(req.name)
            if dep in SKIP:
                continue
            try:
                metadata.distribution(req.name)
            except metadata.PackageNotFoundError:
                continue  # an optional dependency this platform does not install
            if dep not in found or req.extras:
                todo.append((req.name, frozenset(req.extras)))
        if not new and not extras:
            continue
    return found


def main() -> int:
    pins = closure(ROOTS)
    out = Path(__file__).resolve().parents[1] / "resources" / "components" / "training.lock"
    lines = [
        "# The training component's pinned set: written by installers/lock-components.py from",
        "# the environment the test suite runs in (Python "
        f"{sys.version_info.major}.{sys.version_info.minor}, Linux x86-64). On the CPU the",
        "# CUDA-only packages are left out and torch comes from PyTorch's CPU index",
        "# (engine/components.py).",
    ]
    lines += [f"{name}=={re.sub(r'[+].*$', '', v)}" for name, v in sorted(pins.items())]
    out.write_text("\n".join(lines) + "\n")
    print(f"{len(pins)} packages -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
