"""The ``tailor`` command line: the same engine as the window, headless.

Every command has ``--help``. An error is one line on stderr and a non-zero exit status. Each
area has its module (models, assistants, knowledge, evaluate, training, raft); long commands
show their events through the one printer in ``progress``.
"""

from __future__ import annotations

import click

from engine.cli import (
    assistants,
    components,
    evaluate,
    knowledge,
    models,
    providers,
    raft,
    serve,
    training,
)
from engine.errors import ComponentMissing, TailorError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tailor")
def cli() -> None:
    """Tailor: customise an open LLM with your own data, on your own machine.

    Run without arguments to open the app.
    """


for command in (
    models.models,
    providers.providers,
    assistants.chat,
    assistants.assistants,
    assistants.examples,
    knowledge.kb,
    evaluate.evaluate,
    training.datasets,
    training.train,
    training.jobs,
    training.adapters,
    models.settings,
    raft.raft,
    serve.serve,
    components.components,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors become one line on stderr."""
    try:
        cli.main(args=argv, prog_name="tailor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except TailorError as exc:
        if isinstance(exc, ComponentMissing):
            exc.add_note("Install it with: tailor components install training")
        # Notes are the command line's own advice (what to type), added by the commands.
        click.echo(" ".join(["tailor:", str(exc), *getattr(exc, "__notes__", ())]), err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
