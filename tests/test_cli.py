"""The `tailor` command, run as a user runs it: a subprocess, output on stdout, errors one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gguf_factory import write_gguf

TAILOR = str(Path(sys.executable).parent / "tailor")
ASSETS = Path(__file__).parent / "assets"


def run(*args, ok=True):
    result = subprocess.run([TAILOR, *args], capture_output=True, text=True, timeout=300)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_every_command_has_help(home):
    for args in (
        [],
        ["models"],
        ["models", "import"],
        ["chat"],
        ["assistants"],
        ["assistants", "edit"],
        ["examples"],
        ["settings"],
    ):
        out = run(*args, "--help").stdout
        assert "Usage: tailor" in out


def test_models_list_and_info(home):
    assert "smollm2-135m-instruct" in run("models", "list").stdout
    info = run("models", "info", "smollm2-135m-instruct").stdout
    assert "architecture    llama" in info and "Q4_1" in info and "8192" in info
    row = json.loads(run("models", "list", "--json").stdout.splitlines()[0])
    assert row["quantization"] == "Q4_1" and row["has_chat_template"] is True


def test_model_import_and_a_bad_file(home, tmp_path):
    good = write_gguf(tmp_path / "Tiny-Test-Q8.gguf")
    assert "Imported tiny-test-q8" in run("models", "import", str(good)).stdout
    bad = tmp_path / "bad.gguf"
    bad.write_text("nope")
    result = run("models", "import", str(bad), ok=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not a GGUF model file" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_streams_to_stdout(home):
    result = run("chat", "--system", "Answer in one word.", "--seed", "1", "--stats", "Hello")
    assert result.stdout.strip()
    assert "tokens/s" in result.stderr


def test_assistants_versions_from_the_command_line(home):
    run(
        "assistants",
        "create",
        "Helper",
        "--model",
        "smollm2-135m-instruct",
        "--system",
        "Be brief.",
    )
    run("examples", "import", "qa", str(ASSETS / "examples_good.jsonl"))
    assert "v2 · Level 2" in run("assistants", "edit", "Helper", "--examples", "qa").stdout
    assert "v3 · Level 2" in run("assistants", "edit", "Helper", "--system", "Be kind.").stdout
    assert "No change" in run("assistants", "edit", "Helper", "--system", "Be kind.").stdout
    history = run("assistants", "history", "Helper").stdout.splitlines()
    assert [line.split()[0] for line in history] == ["v3", "v2", "v1"]
    diff = run("assistants", "diff", "Helper", "1", "3").stdout
    assert "-system_prompt: Be brief." in diff and "+example_set: qa" in diff
    assert "is now v4" in run("assistants", "revert", "Helper", "1").stdout
    assert "example_set: null" in run("assistants", "show", "Helper").stdout
    listing = run("assistants", "list").stdout
    assert "Helper" in listing and "v4 · Level 1" in listing
    answer = run("chat", "--assistant", "Helper", "Hi").stdout
    assert answer.strip()


@pytest.mark.parametrize(
    "args, message",
    [
        (["assistants", "show", "Ghost"], "No assistant named 'Ghost'"),
        (["chat", "--model", "ghost", "hi"], "No model named 'ghost'"),
        (["assistants", "create", "X", "--temperature", "7"], "temperature"),
        (["assistants", "create", "X", "--examples", "none"], "No example set named 'none'"),
        (["examples", "import", "bad", str(ASSETS / "examples_bad.jsonl")], "4 problem(s)"),
    ],
)
def test_errors_are_clear_and_exit_non_zero(home, args, message):
    result = run(*args, ok=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_deleting_a_job_that_does_not_exist_says_where_to_look(home):
    result = run("jobs", "delete", "42", ok=False)
    assert result.returncode != 0
    assert "No training job 42." in result.stderr and "tailor jobs list" in result.stderr
