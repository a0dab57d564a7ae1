"""``tailor models`` (the model library) and ``tailor settings`` (how models run)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.cli.common import engine_of


@click.group()
def models() -> None:
    """The model library."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
@click.pass_context
def models_list(ctx, as_json: bool) -> None:
    """List the models in the library."""
    for m in engine_of(ctx).list_models():
        if as_json:
            click.echo(json.dumps({"name": m.name, "path": str(m.path), **m.info.to_dict()}))
        else:
            i = m.info
            tag = "  (bundled)" if m.bundled else ""
            click.echo(
                f"{m.name:32} {i.architecture:10} {i.parameters_label:>6} {i.quantization:8} "
                f"ctx {i.context_length:<6}{tag}"
            )


@models.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name in the library (default: from the file name).")
@click.pass_context
def models_import(ctx, path: Path, name: str | None) -> None:
    """Import a GGUF model file into the library."""
    model = engine_of(ctx).import_model(path, name)
    click.echo(f"Imported {model.name} ({model.info.architecture}, {model.info.parameters_label}).")


@models.command("info")
@click.argument("name")
@click.pass_context
def models_info(ctx, name: str) -> None:
    """Show what a model's GGUF metadata says."""
    m = engine_of(ctx).get_model(name)
    i = m.info
    for label, value in [
        ("name", m.name),
        ("file", m.path),
        ("architecture", i.architecture),
        ("parameters", f"{i.parameters_label} ({i.parameters:,})"),
        ("quantisation", i.quantization),
        ("context length", i.context_length),
        ("layers", i.n_layers),
        ("chat template", "yes" if i.has_chat_template else "no (ChatML is used)"),
        ("size", f"{i.file_size / 1e6:.1f} MB"),
    ]:
        click.echo(f"{label:15} {value}")


@models.command("remove")
@click.argument("name")
@click.pass_context
def models_remove(ctx, name: str) -> None:
    """Remove an imported model (and its copy in the workspace)."""
    engine_of(ctx).remove_model(name)
    click.echo(f"Removed {name}.")


@click.command()
@click.option("--threads", type=int, help="CPU threads llama.cpp uses.")
@click.option("--gpu-layers", type=int, help="Layers offloaded to the GPU (-1 all, 0 none).")
@click.option("--context-size", type=int, help="Context window in tokens.")
@click.pass_context
def settings(ctx, threads, gpu_layers, context_size) -> None:
    """Show the runtime settings, or change them."""
    engine = engine_of(ctx)
    s = engine.save_settings(threads=threads, gpu_layers=gpu_layers, context_size=context_size)
    click.echo(f"workspace     {engine.home}")
    for key, value in s.model_dump().items():
        click.echo(f"{key:13} {value}")
    click.echo(f"gpu backend   {'yes' if engine.gpu_available() else 'no (CPU only)'}")
