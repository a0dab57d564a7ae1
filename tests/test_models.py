"""The model library: GGUF metadata, validation before llama.cpp sees a file, import."""

import os

import pytest

from engine import bundled
from engine.errors import AlreadyExists, InvalidModelFile
from engine.models import gguf_file
from tests.gguf_factory import write_gguf


def test_bundled_model_is_registered_on_first_start(engine):
    model = engine.get_model(bundled.DEFAULT_MODEL_NAME)
    assert model.bundled and model.path.is_file()
    info = model.info
    assert info.architecture == "llama"
    assert 130e6 < info.parameters < 140e6
    assert info.parameters_label == "135M"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.has_chat_template and "<|im_start|>" in info.chat_template


def test_first_start_creates_a_default_assistant_on_the_bundled_model(engine):
    from engine.api import DEFAULT_ASSISTANT

    assert engine.list_assistants() == [DEFAULT_ASSISTANT]
    assert engine.get_assistant(DEFAULT_ASSISTANT).config.model == "smollm2-135m-instruct"
    engine.first_run()  # a second start changes nothing
    assert len(engine.assistant_history(DEFAULT_ASSISTANT)) == 1


def test_not_a_gguf_is_refused(tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_text("hello, I am a text file")
    with pytest.raises(InvalidModelFile, match="not a GGUF model file"):
        gguf_file.inspect(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    with pytest.raises(InvalidModelFile, match="not a GGUF"):
        gguf_file.inspect(path)


def test_truncated_gguf_is_refused(tmp_path):
    path = write_gguf(tmp_path / "cut.gguf")
    assert gguf_file.inspect(path).architecture == "llama"
    os.truncate(path, path.stat().st_size - 100)
    with pytest.raises(InvalidModelFile, match=r"incomplete|damaged"):
        gguf_file.inspect(path)


def test_truncated_header_is_refused(tmp_path):
    path = write_gguf(tmp_path / "cut.gguf")
    os.truncate(path, 40)
    with pytest.raises(InvalidModelFile, match=r"incomplete|damaged"):
        gguf_file.inspect(path)


def test_unknown_architecture_is_refused(tmp_path):
    path = write_gguf(tmp_path / "alien.gguf", arch="alien-net")
    with pytest.raises(InvalidModelFile, match="'alien-net' model"):
        gguf_file.inspect(path)


def test_adapter_is_not_a_model(tmp_path):
    path = write_gguf(tmp_path / "lora.gguf", kind="adapter")
    with pytest.raises(InvalidModelFile, match="adapter"):
        gguf_file.inspect(path)


def test_import_copies_and_registers(engine):
    model = engine.import_model(bundled.default_model_path(), name="copy")
    assert model.path.parent == engine.home / "models"
    assert model.path.stat().st_size == model.info.file_size
    assert [m.name for m in engine.list_models()] == ["smollm2-135m-instruct", "copy"]
    with pytest.raises(AlreadyExists):
        engine.import_model(bundled.default_model_path(), name="copy")
    engine.remove_model("copy")
    assert not model.path.exists()


def test_failed_import_leaves_nothing_behind(engine, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 10)
    with pytest.raises(InvalidModelFile):
        engine.import_model(bad)
    assert list((engine.home / "models").iterdir()) == []
    assert [m.name for m in engine.list_models()] == ["smollm2-135m-instruct"]


def test_bundled_model_cannot_be_removed(engine):
    with pytest.raises(InvalidModelFile):
        engine.remove_model("smollm2-135m-instruct")
