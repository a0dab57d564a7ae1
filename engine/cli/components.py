"""``tailor components``: what the installed app adds when first asked for (training)."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.common import engine_of
from engine.cli.progress import follow
from engine.types import ComponentStatus


def _describe(s: ComponentStatus) -> str:
    line = f"{s.name}: {s.state} · {s.title}"
    if s.state == "installed":
        size = f", {s.size_bytes / 2**30:.1f} GiB" if s.size_bytes else ""
        where = f"trains on the GPU ({s.gpu})" if s.gpu_usable else "trains on the CPU"
        line += f"\n  torch {s.torch} · {where}{size}\n  in {s.folder}"
    elif s.state == "partial":
        line += f"\n  {s.download_bytes / 2**20:,.0f} MiB downloaded in {s.folder}"
    elif s.state == "missing":
        line += "\n  install it with: tailor components install " + s.name
    if s.message:
        line += f"\n  {s.message}"
    return line


@click.group()
def components() -> None:
    """Optional components: the training component (PyTorch and Unsloth) that fine-tuning and
    RAFT training need, installed when first asked for."""


@components.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Which components are there, and where."""
    for s in engine_of(ctx).components():
        click.echo(_describe(s))


@components.command("install")
@click.argument("name", default="training")
@click.option(
    "--wheels",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Install from this folder of wheels, with no network.",
)
@click.option("--cpu", "flavour", flag_value="cpu", help="PyTorch's CPU build, GPU or not.")
@click.option("--cuda", "flavour", flag_value="cuda", help="PyTorch's CUDA build.")
@click.option("--repair", is_flag=True, help="Download and install everything again.")
@click.pass_context
def install(
    ctx: click.Context, name: str, wheels: Path | None, flavour: str | None, repair: bool
) -> None:
    """Download, install and check a component (stopped, the next install resumes)."""
    result = follow(
        engine_of(ctx).install_component(name, wheels=wheels, flavour=flavour, repair=repair)
    )
    click.echo(_describe(result))


@components.command("remove")
@click.argument("name", default="training")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Delete an installed component."""
    where = engine_of(ctx).remove_component(name)
    click.echo(f"Removed {name} from {where}.")
