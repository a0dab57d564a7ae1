"""Names a person types are data, never paths (issue 11, defects 1, 11 and 12): whatever an
adapter, dataset, model or RAFT build is called, its files stay in a place of their own inside
the workspace, and deleting one record never removes another's. A model's file is known by its
content: another GGUF under the same name and size gets its own training cache and is never
given an adapter trained on the first, and a file changed in place after import is refused.

Training jobs are started for real and their worker process is killed at once: everything
these tests check (the job's folder and job.json) is written before the process starts."""

import json
import os
import shutil
from pathlib import Path

import pytest

from engine import bundled
from engine.cli import main
from engine.errors import TailorError
from engine.events import run
from engine.finetune.job_files import read_json
from engine.types import TrainOptions
from tests import raft_facts
from tests.gguf_factory import write_gguf
from tests.workers import stop as stop_worker

BASE = "smollm2-135m-instruct"
ROWS = [
    [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"A{i}."}]
    for i in range(12)
]
ONE_STEP = TrainOptions(max_steps=1)


def _start(engine, adapter: str, base: str = BASE, dataset: str = "d"):
    job = engine.start_training(adapter, base, dataset, ONE_STEP, force=True)
    stop_worker(job.pid or read_json(job.folder / "state.json").get("pid"))
    return engine.get_training_job(job.id)


def _workspace_intact(home: Path) -> None:
    assert (home / "tailor.db").is_file() and (home / "models").is_dir()


def _own_folder(parent: Path, folder: Path) -> None:
    assert folder.resolve().parent == parent.resolve(), f"{folder} is not a folder of {parent}"


# -- defect 1: names become paths ---------------------------------------------------------


def test_train_with_path_like_names_from_the_command_line(engine, home, tmp_path, capsys):
    """`tailor train --name ..` used to delete the whole workspace."""
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"messages": r}) + "\n" for r in ROWS))
    train = ["train", "--base", BASE, "--data", str(data), "--steps", "1", "--force", "--detach"]
    folders = set()
    for name in ("..", ".", "a/b", "../../outside", "%_'"):
        code = main([*train, "--name", name])
        out, err = capsys.readouterr()
        _workspace_intact(home)
        assert code == 0, err
        job = engine.get_training_job(int(out.strip()))
        stop_worker(job.pid)
        _own_folder(home / "training", job.folder)
        assert read_json(job.folder / "job.json")["adapter"] == name
        folders.add(job.folder)
    assert len(folders) == 5
    assert not (tmp_path / "outside").exists()
    assert main([*train, "--name", ""]) == 2  # a usage error: no name given
    assert "Give --base, --data and --name" in capsys.readouterr().err
    for name, message in (
        ("   ", "needs a name"),
        ("two\nlines", "one line"),
        ("x" * 500, "at most 200"),
    ):
        code = main([*train, "--name", name])
        err = capsys.readouterr().err
        last = err.splitlines()[-1]
        assert code == 1 and last.startswith("tailor: ") and message in last, err
    _workspace_intact(home)


def test_names_that_shared_a_folder_each_get_their_own(engine, home):
    """`日本` and `中文` (and `a b` and `a-b`) used to map to one folder, and starting the
    second job emptied the first's."""
    engine.save_dataset("d", ROWS)
    jobs = {name: _start(engine, name) for name in ("日本", "中文", "a b", "a-b", "A-B")}
    assert len({job.folder for job in jobs.values()}) == len(jobs)
    for name, job in jobs.items():
        _own_folder(home / "training", job.folder)
        assert read_json(job.folder / "job.json")["adapter"] == name
    keep = jobs["中文"].folder
    before = sorted(p.name for p in keep.iterdir())
    engine.delete_training_job(jobs["日本"].id)
    assert not jobs["日本"].folder.exists()
    again = _start(engine, "日本")
    assert again.folder != keep
    assert sorted(p.name for p in keep.iterdir()) == before
    assert read_json(keep / "job.json")["adapter"] == "中文"


def test_deleting_a_job_never_removes_what_it_does_not_own(engine, home):
    """Rows written by older versions: one pointing at `training/..` (the workspace) and two
    sharing one folder. Deleting them removes nothing another record still uses."""
    shared = home / "training" / "a-b"
    shared.mkdir(parents=True)
    (shared / "job.json").write_text(json.dumps({"adapter": "a-b"}))
    for adapter, folder in (("..", home / "training" / ".."), ("a b", shared), ("a-b", shared)):
        engine.services.workspace.db.execute(
            "INSERT INTO training_jobs(adapter, base_model, dataset, folder) VALUES (?, ?, ?, ?)",
            (adapter, BASE, "d", str(folder)),
        )
    by_name = {job.adapter: job.id for job in engine.list_training_jobs()}
    engine.delete_training_job(by_name[".."])
    _workspace_intact(home)
    engine.delete_training_job(by_name["a b"])
    assert (shared / "job.json").is_file()  # still the folder of job 'a-b'
    engine.delete_training_job(by_name["a-b"])
    assert not shared.exists()
    _workspace_intact(home)


def test_datasets_with_any_name(engine, home):
    names = ["../x", "..", "a/b", "a b", "a-b", "日本", "中文", "'%_", "n" * 200, "Ab", "aB"]
    for name in names:
        engine.save_dataset(name, ROWS)
    paths = {name: engine.services.datasets.path(name) for name in names}
    assert len(set(paths.values())) == len(names)
    for path in paths.values():
        _own_folder(home / "datasets", path)
    engine.services.datasets.delete("日本")
    assert not paths["日本"].exists()
    assert engine.get_dataset("中文") == ROWS
    assert sorted(engine.list_datasets()) == sorted(set(names) - {"日本"})
    for name, message in (("x" * 300, "at most 200"), ("a\rb", "one line"), (" ", "needs a")):
        with pytest.raises(TailorError, match=message):
            engine.save_dataset(name, ROWS)
    _workspace_intact(home)


def test_model_import_name_stays_a_name(engine, home, tmp_path, capsys):
    for n, name in enumerate(("../x", "../../escaped", "..", "a/b")):
        source = write_gguf(tmp_path / f"tiny-{n}.gguf")
        assert main(["models", "import", str(source), "--name", name]) == 0
        assert f"Imported {name}" in capsys.readouterr().out
        _own_folder(home / "models", engine.get_model(name).path)
    assert not (home / "x.gguf").exists() and not (tmp_path / "escaped.gguf").exists()
    kept = engine.get_model("..").path
    assert main(["models", "remove", "../x"]) == 0
    assert kept.is_file() and engine.get_model("a/b").path.is_file()
    _workspace_intact(home)


def test_raft_builds_with_any_name(engine, home, tmp_path):
    from engine.types import RaftOptions

    raft_facts.build(tmp_path / "docs")
    engine.create_knowledge_base("facts")
    engine.add_folders("facts", [tmp_path / "docs"])
    run(engine.index("facts"))
    options = RaftOptions(knowledge_base="facts", writer=BASE, chunks=3)
    infos = {
        name: engine.create_raft_build(name, options) for name in ("..", "日本", "中文", "a/b")
    }
    assert {name: info.name for name, info in infos.items()} == {n: n for n in infos}
    assert len({info.folder for info in infos.values()}) == 4
    for info in infos.values():
        _own_folder(home / "raft", info.folder)
    assert sorted(b.name for b in engine.list_raft_builds()) == sorted(infos)
    engine.delete_raft_build("..")
    _workspace_intact(home)
    engine.delete_raft_build("日本")
    assert engine.get_raft_build("中文").folder.is_dir()
    assert sorted(b.name for b in engine.list_raft_builds()) == ["a/b", "中文"]
    # A build made by an earlier version (folder named from its name) is still found.
    old = home / "raft" / "old-build"
    shutil.copytree(infos["a/b"].folder, old)
    data = json.loads((old / "build.json").read_text())
    (old / "build.json").write_text(json.dumps(data | {"name": "old build"}))
    assert engine.get_raft_build("old build").folder == old


# -- defect 11: caches keyed by name and size ---------------------------------------------


def _two_files_same_size(tmp_path: Path) -> tuple[Path, Path]:
    """Two valid GGUFs of the same size: the bundled model and a copy with one weight byte
    changed (the last byte of the file is tensor data)."""
    first, second = tmp_path / "first.gguf", tmp_path / "second.gguf"
    shutil.copyfile(bundled.default_model_path(), first)
    shutil.copyfile(first, second)
    with second.open("r+b") as f:
        f.seek(-1, os.SEEK_END)
        byte = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert first.stat().st_size == second.stat().st_size
    return first, second


def test_a_reimported_model_never_reuses_the_old_ones_cache_or_adapters(engine, tmp_path):
    from engine.finetune import worker

    first, second = _two_files_same_size(tmp_path)
    load_options = engine.services.generation.load_options
    engine.save_dataset("d", ROWS)
    engine.import_model(first, "m")
    one = _start(engine, "one", base="m")
    engine.remove_model("m")
    engine.import_model(second, "m")
    two = _start(engine, "two", base="m")
    # The dequantised float32 copy training starts from belongs to one file only.
    job = read_json(one.folder / "job.json")
    assert read_json(two.folder / "job.json")["hf_cache"] != job["hf_cache"]

    (one.folder / "adapter.gguf").write_bytes(b"lora")  # what a finished job leaves
    worker.register_adapter(one.folder, job, {}, one.id)
    with pytest.raises(TailorError, match="trained on another file"):
        load_options("m", "one")
    engine.remove_model("m")
    engine.import_model(first, "m")  # the file it was trained on, back again
    assert load_options("m", "one").lora_path == one.folder / "adapter.gguf"


def test_adapters_recorded_before_content_hashes_still_load(engine, tmp_path):
    lora = tmp_path / "old.gguf"
    lora.write_bytes(b"lora")
    size = bundled.default_model_path().stat().st_size
    for name, base_size in (("old", size), ("old-other-size", size + 1)):
        engine.services.workspace.db.execute(
            "INSERT INTO adapters(name, base_model, base_size, dataset, peft_path, gguf_path, "
            "hyperparameters, results) VALUES (?, ?, ?, 'd', ?, ?, '{}', '{}')",
            (name, BASE, base_size, str(tmp_path), str(lora)),
        )
    load_options = engine.services.generation.load_options
    assert load_options(BASE, "old").lora_path == lora
    with pytest.raises(TailorError, match="another file"):
        load_options(BASE, "old-other-size")


# -- defect 12 (part): a file changed in place after import ---------------------------------


def test_a_model_file_changed_in_place_is_refused(engine, tmp_path):
    engine.import_model(write_gguf(tmp_path / "tiny.gguf"), "tiny")
    path = engine.get_model("tiny").path
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, same content
    assert engine.get_model("tiny").path == path
    with path.open("r+b") as f:  # same size, other content (a tensor byte)
        f.seek(-1, os.SEEK_END)
        f.write(b"\x7f")
    with pytest.raises(TailorError, match="changed after it was imported"):
        engine.get_model("tiny")
    with pytest.raises(TailorError, match="changed after it was imported"):
        engine.services.generation.load_options("tiny")
    engine.remove_model("tiny")  # still possible: the way to import the new file
    assert not path.exists()

    engine.import_model(write_gguf(tmp_path / "cut.gguf"), "cut")
    path = engine.get_model("cut").path
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 8)
    with pytest.raises(TailorError, match="changed after it was imported"):
        engine.get_model("cut")


def test_models_imported_before_content_hashes_are_hashed_on_first_use(engine, tmp_path):
    engine.import_model(write_gguf(tmp_path / "tiny.gguf"), "tiny")
    db = engine.services.workspace.db
    db.execute("UPDATE models SET sha256 = NULL, mtime_ns = NULL")
    assert engine.get_model("tiny").sha256 and engine.get_model(BASE).sha256
    row = db.execute("SELECT sha256, mtime_ns FROM models WHERE name = 'tiny'").fetchone()
    assert row["sha256"] and row["mtime_ns"]
    assert db.execute("SELECT COUNT(*) FROM models WHERE sha256 IS NULL").fetchone()[0] == 0
