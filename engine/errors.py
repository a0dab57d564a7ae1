"""The one error hierarchy. Every message is written for the person using Tailor."""


class TailorError(Exception):
    """An error whose message can be shown to the user as it is."""


class WorkspaceInUse(TailorError):
    """Another Tailor window already has this workspace open."""


class NotFound(TailorError):
    """A named thing (model, assistant, example set, …) does not exist."""


class AlreadyExists(TailorError):
    """A name is already taken."""


class InvalidModelFile(TailorError):
    """A file cannot be used as a model: not GGUF, truncated, or an unsupported architecture."""


class InvalidData(TailorError):
    """Imported data has problems; the message lists every one of them."""

    def __init__(self, problems: list[str], what: str = "The file"):
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{what} has {len(problems)} problem(s):\n{shown}{more}")

    @classmethod
    def from_validation(cls, exc, what: str) -> "InvalidData":
        """Every problem a pydantic ``ValidationError`` found, as 'field: message' lines."""
        return cls(
            [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()], what
        )


class ComponentMissing(TailorError):
    """What was asked for needs an optional component that is not installed (training)."""


class Cancelled(TailorError):
    """The person stopped the operation: a normal ending, not a failure."""


class ModelUnavailable(TailorError):
    """The model cannot answer right now — another task unloaded it, or its server cannot be
    reached — through no fault of the input: work in progress records nothing for the case and
    can be resumed."""
