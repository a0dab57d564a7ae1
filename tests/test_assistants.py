"""Assistants and their immutable versions: save, history, diff, revert, level."""

import pytest

from engine.errors import AlreadyExists, InvalidData, NotFound
from engine.types import AssistantConfig, validate_config


def make(engine, name="Support"):
    return engine.create_assistant(name, AssistantConfig(model="smollm2-135m-instruct"))


def test_every_save_is_a_new_version(engine):
    make(engine)
    current = engine.get_assistant("Support").config
    v2 = engine.save_assistant("Support", current.model_copy(update={"temperature": 0.2}))
    v3 = engine.save_assistant(
        "Support", v2.config.model_copy(update={"system_prompt": "Be brief."})
    )
    assert [v.version for v in engine.assistant_history("Support")] == [3, 2, 1]
    assert v3.config.system_prompt == "Be brief." and v3.config.temperature == 0.2
    # Older versions are unchanged.
    assert engine.get_assistant("Support", 1).config.temperature == 0.7


def test_saving_an_unchanged_config_makes_no_version(engine):
    v1 = make(engine)
    assert engine.save_assistant("Support", v1.config).version == 1


def test_diff_shows_the_changed_lines(engine):
    make(engine)
    engine.edit_assistant("Support", system_prompt="Answer in French.", temperature=0.1)
    diff = "\n".join(engine.assistant_diff("Support", 1, 2))
    assert "-system_prompt: You are a helpful assistant." in diff
    assert "+system_prompt: Answer in French." in diff
    assert "+temperature: 0.1" in diff
    assert not any(line.startswith(("+model", "-model")) for line in diff.splitlines())


def test_revert_is_a_new_version_with_the_old_config(engine):
    v1 = make(engine)
    engine.edit_assistant("Support", system_prompt="Changed.")
    v3 = engine.revert_assistant("Support", 1)
    assert v3.version == 3 and v3.config == v1.config and v3.note == "Reverted to v1"
    assert engine.assistant_diff("Support", 1, 3) == []


def test_level_follows_what_the_assistant_uses(engine):
    make(engine)
    assert engine.get_assistant("Support").level == 1
    engine.create_example_set("demo")
    v = engine.edit_assistant("Support", example_set="demo")
    assert v.level == 2 and v.label == "v2 · Level 2"
    assert engine.edit_assistant("Support", detach_examples=True).level == 1


def test_validation_reports_every_problem_at_once():
    with pytest.raises(InvalidData) as info:
        validate_config({"model": "m", "temperature": 9, "top_p": 0, "max_tokens": -1})
    text = str(info.value)
    assert "3 problem(s)" in text
    assert "temperature" in text and "top_p" in text and "max_tokens" in text


def test_names_are_unique_and_lookups_explain(engine):
    make(engine)
    with pytest.raises(AlreadyExists):
        make(engine)
    with pytest.raises(NotFound, match="Assistants: Default assistant, Support"):
        engine.get_assistant("Nope")
    with pytest.raises(NotFound, match="no version 7"):
        engine.get_assistant("Support", 7)


def test_a_configuration_naming_a_missing_record_is_refused_once_for_every_front_end(engine):
    v1 = make(engine)
    with pytest.raises(NotFound, match="No example set named 'none'"):
        engine.create_assistant("X", v1.config.model_copy(update={"example_set": "none"}))
    with pytest.raises(NotFound, match="No knowledge base"):
        engine.save_assistant("Support", v1.config.model_copy(update={"knowledge_base": "kb"}))
    with pytest.raises(NotFound, match="No model named 'gone'"):
        engine.edit_assistant("Support", model="gone")
    assert [v.version for v in engine.assistant_history("Support")] == [1]
    # Only what changes is checked: a set deleted since does not block an edit of the prompt.
    engine.create_example_set("demo")
    engine.edit_assistant("Support", example_set="demo")
    engine.delete_example_set("demo")
    assert engine.edit_assistant("Support", system_prompt="Be brief.").version == 3
