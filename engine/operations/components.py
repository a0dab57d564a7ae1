"""The components operations of :class:`engine.api.Engine`: what the installed app adds when
first asked for (the training component: torch and Unsloth), see :mod:`engine.components`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine import components
from engine.components import ComponentStatus
from engine.events import CancelToken, Outcome, Progress


class ComponentsOperations:
    def component_status(self, name: str = "training") -> ComponentStatus:
        """Whether ``name`` is built in (a checkout), installed, downloaded in part, or
        missing, with where and, when installed, torch's build and whether the GPU is usable."""
        return components.status(name)

    def components(self) -> list[ComponentStatus]:
        return [components.status(n) for n in components.NAMES]

    def install_component(
        self,
        name: str = "training",
        *,
        wheels: Path | None = None,
        flavour: str | None = None,
        repair: bool = False,
        cancel: CancelToken | None = None,
    ) -> Iterator[Progress | Outcome[ComponentStatus]]:
        """Download, install and check ``name``: an operation ("downloading", "installing",
        "checking"). ``wheels``: a folder of wheels to install from with no network;
        ``flavour``: "cuda" or "cpu" instead of what this machine has; ``repair``: download
        everything again. Stopped, the next install resumes the download."""
        return components.install(
            name, wheels=wheels, flavour=flavour, repair=repair, cancel=cancel
        )

    def remove_component(self, name: str = "training") -> Path:
        """Delete an installed component; the folder it was in."""
        return components.remove(name)
