"""A user's terminal shows only Tailor's own messages: the machine-learning libraries' warnings
for their developers stay off it."""

import subprocess
import sys
from pathlib import Path

import pytest

TAILOR = str(Path(sys.executable).parent / "tailor")
IMPORT = "import sentence_transformers"


def stderr_of(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.mark.slow
def test_importing_the_ml_stack_through_tailor_prints_nothing():
    noisy = stderr_of(IMPORT)
    # What the libraries say on their own (if they stop saying it, this test has nothing to show).
    assert "deprecated" in noisy or "kernels" in noisy
    quiet = stderr_of(f"from engine.quiet import quiet_ml_imports; quiet_ml_imports(); {IMPORT}")
    assert "deprecated" not in quiet and "kernels" not in quiet
    assert quiet == ""


@pytest.mark.slow
def test_a_knowledge_base_chat_on_the_command_line_prints_only_tailors_lines(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zorbia.txt").write_text("The capital of Zorbia is Quenton. Zorbia exports cheese.")

    def tailor(*args):
        result = subprocess.run([TAILOR, *args], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        return result

    tailor("kb", "create", "z")
    added = tailor("kb", "add", "z", str(docs))
    tailor("assistants", "create", "Z", "--kb", "z", "--max-tokens", "16")
    chatted = tailor("chat", "-a", "Z", "What is the capital of Zorbia?")
    assert "zorbia.txt" in chatted.stdout  # it did answer from the document
    for result in (added, chatted):
        foreign = [
            line
            for line in result.stderr.splitlines()
            if line.strip()
            and not line.startswith(("Loading ", "scanning:", "indexing:", "finishing:", "OCR"))
        ]
        assert foreign == []
