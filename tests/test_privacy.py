"""Nothing leaves the machine (or the workspace): the main paths run with outbound sockets
blocked, and imported data is not copied into caches outside the workspace."""

import os
import socket
import subprocess
import sys

import pytest

from engine import bundled
from engine.api import DEFAULT_ASSISTANT, Engine, Reply, run
from engine.types import Example
from tests.conftest import NetworkBlocked


def test_the_guard_really_blocks(no_network):
    # A test that cannot fail is a defect: show an outbound connection is caught.
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("198.51.100.7", 443), timeout=1)
    assert no_network


def test_chat_import_and_few_shot_stay_offline(no_network, home, tmp_path):
    engine = Engine(home)
    engine.first_run()
    imported = engine.import_model(bundled.default_model_path(), name="offline-copy")
    engine.create_example_set(
        "demo", [Example("What is 1+1?", "2"), Example("Capital of Japan?", "Tokyo")]
    )
    engine.edit_assistant(
        DEFAULT_ASSISTANT, model=imported.name, example_set="demo", few_shot_k=1, max_tokens=8
    )
    reply = run(engine.chat("What is 2+2?", assistant=DEFAULT_ASSISTANT))
    assert isinstance(reply, Reply) and reply.text
    engine.close()
    assert no_network == []


def test_indexing_and_answering_from_documents_stay_offline(no_network, home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Boiler\n\nThe boiler in room 12 is serviced every March.\n")
    engine = Engine(home)
    engine.first_run()
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [docs])
    assert list(engine.index("docs"))[-1].status == "done"
    engine.edit_assistant(DEFAULT_ASSISTANT, knowledge_base="docs", max_tokens=8)
    reply = run(engine.chat("When is the boiler serviced?", assistant=DEFAULT_ASSISTANT))
    assert reply.sources and reply.sources[0]["source"].endswith("a.md")
    engine.close()
    assert no_network == []


PARQUET_IMPORT = (
    "import sys\n"
    "from pathlib import Path\n"
    "from engine.finetune.datasets import parse_file\n"
    "assert parse_file(Path(sys.argv[1]))[0][1]['content'] == '4'\n"
)


def test_parquet_import_leaves_no_copy_in_the_global_datasets_cache(tmp_path):
    """Training data stays in the workspace: nothing lands in Hugging Face's datasets cache."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "pairs.parquet"
    rows = [{"prompt": "2+2?", "completion": "4"}]
    pq.write_table(pa.Table.from_pylist(rows), data)
    cache = tmp_path / "hf"
    env = {**os.environ, "HF_HOME": str(cache), "HF_DATASETS_CACHE": str(cache / "datasets")}
    # A fresh process, so the cache location is read from these variables.
    done = subprocess.run(
        [sys.executable, "-c", PARQUET_IMPORT, str(data)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    left = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert left == []
