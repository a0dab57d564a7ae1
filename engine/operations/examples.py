"""The examples operations of :class:`engine.api.Engine`: example sets for few-shot prompting
(Level 2)."""

from __future__ import annotations

from pathlib import Path

from engine.examples import Example
from engine.services import Services


class ExamplesOperations:
    services: Services

    def list_example_sets(self) -> list[str]:
        """The example sets' names, in order."""
        return self.services.examples.names()

    def example_counts(self) -> dict[str, int]:
        """How many examples each set holds, by name."""
        return self.services.examples.counts()

    def get_example_set(self, name: str) -> list[Example]:
        """A set's examples, in order."""
        return self.services.examples.get(name)

    def create_example_set(self, name: str, examples: list[Example] = ()) -> None:
        """A new example set (empty unless ``examples`` are given)."""
        self.services.examples.create(name, examples)

    def replace_examples(self, name: str, examples: list[Example]) -> None:
        """Replace a set's examples, all at once."""
        self.services.examples.replace(name, examples)

    def delete_example_set(self, name: str) -> None:
        self.services.examples.delete(name)

    def import_examples(self, path: Path, name: str) -> int:
        """Read a .jsonl/.csv file of input/output pairs into set ``name`` (created, or added
        to); every bad row is reported and nothing is written unless the whole file is good.
        Returns how many examples were read."""
        return self.services.examples.import_file(name, Path(path))

    def export_examples(self, name: str, path: Path) -> int:
        """Write set ``name`` to a .jsonl or .csv file; returns how many examples."""
        return self.services.examples.export_file(name, Path(path))
