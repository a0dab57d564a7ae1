"""Which rung an assistant stands on. Level 5 is a RAFT adapter with a knowledge base; a plain
LoRA adapter with a knowledge base is Level 4 + RAG: in the engine, in `tailor assistants` and in
the window's header and ladder."""

import subprocess
import sys
from pathlib import Path

from engine.api import Engine
from engine.types import AssistantConfig
from tests import fake_adapters

TAILOR = str(Path(sys.executable).parent / "tailor")


def tuned_assistant(engine: Engine, folder: Path) -> str:
    """Two adapter records, a plain LoRA ("plain") and a RAFT one ("retrieval"), and an
    assistant using the plain one with a knowledge base. A level is read from the records
    alone, so the adapters' files are never made (the services are used: the verbs would check
    the files and the knowledge base)."""
    model = fake_adapters.register(engine, folder)
    config = AssistantConfig(model=model, adapter="plain", knowledge_base="docs")
    engine.services.assistants.create("Tuned", config)
    return "Tuned"


def test_level_5_is_a_raft_adapter_with_a_knowledge_base(engine, tmp_path):
    name = tuned_assistant(engine, tmp_path)
    assistants = engine.services.assistants
    v1 = assistants.current(name)
    assert (v1.level, v1.label) == (4, "v1 · Level 4 + RAG")
    v2 = assistants.edit(name, adapter="retrieval")
    assert (v2.level, v2.label) == (5, "v2 · Level 5")
    v3 = assistants.edit(name, detach_kb=True)
    assert (v3.level, v3.label) == (4, "v3 · Level 4")
    assert [v.level_label for v in assistants.history(name)] == [
        "Level 4",
        "Level 5",
        "Level 4 + RAG",
    ]
    # An adapter no longer in the workspace gives no RAFT prompt format, so no Level 5.
    gone = AssistantConfig(model=v1.config.model, adapter="gone", knowledge_base="docs")
    assert gone.level_for(assistants.adapter_kind(gone)) == 4


def test_the_command_line_says_level_4_plus_rag(home, tmp_path):
    engine = Engine(home)
    try:
        engine.first_run()
        name = tuned_assistant(engine, tmp_path)
    finally:
        engine.close()
    listing, shown, history = (
        subprocess.run(
            [TAILOR, "assistants", *command], capture_output=True, text=True, timeout=300
        ).stdout
        for command in (["list"], ["show", name], ["history", name])
    )
    assert "v1 · Level 4 + RAG" in listing and shown.startswith(f"# {name} v1 · Level 4 + RAG ·")
    assert history.split()[:5] == ["v1", "Level", "4", "+", "RAG"]


def test_the_header_and_ladder_say_level_4_plus_rag(engine, tmp_path, qtbot):
    from desktop.main_window import MainWindow

    name = tuned_assistant(engine, tmp_path)
    window = MainWindow(engine)
    qtbot.addWidget(window)
    window.state.select(name)
    marks = {key: window._nav_items[key].text()[0] for key in ("finetune", "raft")}
    assert window.level_badge.text() == "Level 4 + RAG · Fine-tuned"
    assert marks == {"finetune": "●", "raft": "○"}
    window.state.update(adapter="retrieval")
    assert window.level_badge.text() == "Level 5 · RAFT · edited"
    assert window._nav_items["raft"].text()[0] == "●"
