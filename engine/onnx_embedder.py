"""Sentence embeddings through ONNX Runtime: an int8 model exported once from a local
sentence-transformers folder (the bundled all-MiniLM-L6-v2 at set-up), then run without torch.

Export (needs torch, once): the folder's transformer is traced with ``torch.onnx`` (a float32
model, used for texts of up to :data:`SHORT_TOKENS` tokens), its MatMul weights quantised to int8
per channel with ``onnxruntime.quantization.quantize_dynamic`` (used for the rest), both files
kept in a cache next to the virtual environment (``<venv>/tailor-cache/embedders``, or
``~/.cache/tailor/embedders`` when the environment is read-only, the system's cache folder on
macOS and Windows; ``TAILOR_EMBEDDER_CACHE`` overrides both). ``installers/bootstrap.sh`` runs
``python -m engine.onnx_embedder`` so the bundled embedder is exported at set-up; a folder
without an export is exported on first use.

Inference needs only ``onnxruntime``, ``tokenizers`` and numpy: the folder's own
``tokenizer.json`` (truncated at its ``max_seq_length``, stripped and lower-cased as
sentence-transformers does), the transformer, mean or CLS pooling and unit length, as the
folder's ``modules.json`` says; one text per run, runs side by side on the CPUs (see
:meth:`OnnxEncoder.encode`). Folders
with other modules (dense layers, other poolings) stay on sentence-transformers.

The vectors are the same model's: cosine ≥ 0.99 to sentence-transformers' own (tested in
``tests/test_embeddings.py``), so an index built either way is searched with either.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

# Bumped when the export changes, so older exports are not used.
EXPORT_VERSION = 1
SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}
# MatMuls left in float32 in the int8 model: the feed-forward output of the first two layers
# (BERT's names), whose inputs have the widest ranges. Against the float model, on 40 SciFact
# abstracts and 120 claims, quantising every MatMul gave cosine ≥ 0.993 and ≥ 0.991; keeping
# these two (1/9 of the work) ≥ 0.996 and ≥ 0.993.
KEEP_FLOAT = re.compile(r"layer\.[01]/output/dense/")
# Texts of at most this many tokens run on the float model instead. int8 activations are
# quantised with one scale per run, and a text of a few tokens averages few of them: single
# words came out at cosine 0.97-0.98 whatever was kept in float. Short texts are questions,
# mostly, and cost little either way; this keeps them exact.
SHORT_TOKENS = 32
# The key of the bundled embedder's export inside the installed app (see Layout.key).
BUNDLED_KEY = "bundled"
# The most texts embedded at a time: beyond 8 cores an index spends its time elsewhere, and the
# window and llama.cpp keep cores of their own.
MAX_WORKERS = 8


def available() -> bool:
    """Whether ONNX Runtime is installed."""
    return importlib.util.find_spec("onnxruntime") is not None


class Layout:
    """What a sentence-transformers folder holds, read from its JSON files (no torch)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        modules = json.loads((self.folder / "modules.json").read_text())
        kinds = {m["type"].rsplit(".", 1)[-1]: m for m in modules}
        unknown = set(kinds) - SUPPORTED_MODULES
        if unknown or "Transformer" not in kinds or "Pooling" not in kinds:
            raise ValueError(f"modules not supported by the ONNX path: {sorted(unknown)}")
        self.transformer = self.folder / kinds["Transformer"].get("path", "")
        pooling = json.loads((self.folder / kinds["Pooling"]["path"] / "config.json").read_text())
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        if modes == ["pooling_mode_mean_tokens"]:
            self.pooling = "mean"
        elif modes == ["pooling_mode_cls_token"]:
            self.pooling = "cls"
        else:
            raise ValueError(f"pooling not supported by the ONNX path: {modes}")
        self.dimension = int(pooling["word_embedding_dimension"])
        config = {}
        for name in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
            if (self.transformer / name).exists():
                config = json.loads((self.transformer / name).read_text())
                break
        self.max_seq_length = int(config.get("max_seq_length") or 512)
        self.lower_case = bool(config.get("do_lower_case", False))
        self.tokenizer_file = self.transformer / "tokenizer.json"
        if not self.tokenizer_file.exists():
            raise ValueError("no tokenizer.json")

    def key(self) -> str:
        """Names this folder's weights as they are now, with the export's settings. Inside the
        installed app the bundled folder never changes, and its export ships with it, made at
        package time: its key is :data:`BUNDLED_KEY` (and its weights need not ship)."""
        bundle = getattr(sys, "_MEIPASS", None)
        if bundle and Path(bundle).resolve() in self.folder.resolve().parents:
            return BUNDLED_KEY
        h = hashlib.sha256(f"{EXPORT_VERSION}\0{self.folder.resolve()}\0{_flavour()}".encode())
        for f in sorted(self.transformer.iterdir()):
            if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".txt"):
                st = f.stat()
                h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        return h.hexdigest()[:16]


def _flavour() -> str:
    """int8 with 8-bit weights where the CPU has VNNI; 7-bit ("reduce range") elsewhere, where
    AVX2/AVX-512 integer products without VNNI could saturate (ONNX Runtime's advice). The
    package build makes the 7-bit one, which every CPU runs (``TAILOR_EMBEDDER_FLAVOUR``)."""
    if os.environ.get("TAILOR_EMBEDDER_FLAVOUR") in ("int8", "int8r"):
        return os.environ["TAILOR_EMBEDDER_FLAVOUR"]
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "int8r"
    return "int8" if "vnni" in flags else "int8r"


def cache_dirs() -> list[Path]:
    """Where exports are kept, in the order they are looked for (the first writable one gets
    new exports)."""
    if os.environ.get("TAILOR_EMBEDDER_CACHE"):
        return [Path(os.environ["TAILOR_EMBEDDER_CACHE"])]
    return [Path(sys.prefix) / "tailor-cache" / "embedders", _user_cache() / "embedders"]


def _user_cache() -> Path:
    """~/.cache/tailor on Linux; the system's own cache folder elsewhere (platformdirs:
    ~/Library/Caches/Tailor, %LOCALAPPDATA%\\Tailor\\Cache)."""
    if sys.platform.startswith("linux"):
        return Path.home() / ".cache" / "tailor"
    import platformdirs

    return Path(platformdirs.user_cache_dir("Tailor", appauthor=False))


def float_file(model_file: Path) -> Path:
    """The float32 model exported beside an int8 one."""
    return model_file.with_suffix(".fp32.onnx")


def export_file(layout: Layout, name: str) -> Path | None:
    """The export of ``layout``'s folder as it is now (its int8 model, the float one beside
    it), if one exists."""
    filename = f"{_safe(name)}-{layout.key()}.onnx"
    for folder in cache_dirs():
        if (folder / filename).is_file() and float_file(folder / filename).is_file():
            return folder / filename
    return None


def ensure(layout: Layout, name: str) -> Path:
    """The export of ``layout``'s folder, made now (with torch) if there is none."""
    found = export_file(layout, name)
    if found is not None:
        return found
    from filelock import FileLock

    filename = f"{_safe(name)}-{layout.key()}.onnx"
    errors = []
    for folder in cache_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with FileLock(folder / f"{filename}.lock"):
                target = folder / filename
                # Another process may have made it meanwhile.
                if not (target.is_file() and float_file(target).is_file()):
                    export(layout, target)
            return target
        except OSError as exc:
            errors.append(f"{folder}: {exc}")
    raise OSError("no writable cache for the embedder's ONNX export: " + "; ".join(errors))


def export(layout: Layout, target: Path) -> None:
    """Trace the transformer to ONNX (float32, kept beside ``target``) and quantise its MatMul
    weights to int8 into ``target``, which is written last and whole, or not at all."""
    import onnx

    from engine.quiet import quiet_ml_imports

    quiet_ml_imports()  # the ML stack's own warnings stay off the user's terminal
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    transformers.logging.set_verbosity_error()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = AutoModel.from_pretrained(
        str(layout.transformer), attn_implementation="eager", local_files_only=True
    ).eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in _parameters(model.forward):
        names.append("token_type_ids")

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = torch.ones(2, 8, dtype=torch.long)
    args = tuple(sample if n == "input_ids" else torch.ones_like(sample) for n in names)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        plain = Path(tmp) / "model.onnx"
        # The tracer's warnings (the legacy exporter, Python booleans traced as constants) are
        # for the model's developers: the export is checked against torch's own vectors by
        # tests/test_embeddings.py.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Hidden(model),
                args,
                str(plain),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        quantised = Path(tmp) / "model-int8.onnx"
        graph = onnx.load(str(plain), load_external_data=False).graph
        quantize_dynamic(
            str(plain),
            str(quantised),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=_flavour() == "int8r",
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=[n.name for n in graph.node if KEEP_FLOAT.search(n.name)],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(plain, float_file(target))
        os.replace(quantised, target)


def _parameters(fn) -> set[str]:
    import inspect

    return set(inspect.signature(fn).parameters)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "embedder"


class OnnxEncoder:
    """Runs an export: ``encode`` gives unit-length float32 vectors, one row per text. Texts of
    up to :data:`SHORT_TOKENS` tokens run on the float model (loaded when first needed), the
    others on the int8 one."""

    def __init__(self, layout: Layout, model_file: Path):
        from tokenizers import Tokenizer

        self.layout = layout
        self.dimension = layout.dimension
        self.model_file = Path(model_file)
        self.session = self._session(self.model_file)
        self._float = None
        self._lock = threading.Lock()
        self._pool = None
        self.inputs = {i.name for i in self.session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(layout.tokenizer_file))
        tokenizer.enable_truncation(layout.max_seq_length)
        tokenizer.no_padding()
        self.tokenizer = tokenizer

    @staticmethod
    def _session(path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Each run has one thread, and texts run side by side instead (see encode): one text
        # is too little work to share among cores. On 2 cores, 2 texts at a time on one thread
        # each did 26.8k tokens/s of SciFact chunks against 20.5k for one text at a time on
        # two threads (and 14k on one).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @property
    def float_session(self):
        with self._lock:
            if self._float is None:
                self._float = self._session(float_file(self.model_file))
            return self._float

    def tokens(self, texts: list[str]) -> list[int]:
        """How many tokens of each text the model reads (special tokens included)."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(self._prepare(texts))]

    def _prepare(self, texts: list[str]) -> list[str]:
        texts = [str(t).strip() for t in texts]
        return [t.lower() for t in texts] if self.layout.lower_case else texts

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One text per run, whatever ``batch_size`` says, with as many runs at a time as the
        process has CPUs (up to :data:`MAX_WORKERS`). The int8 model quantises each run's
        activations with one scale, so a text batched with others (and their padding) would get
        a slightly different vector from the one it gets alone: a single word batched with a
        long passage came out at cosine 0.97 to itself alone. Alone, a text's vector is always
        the same, and on a CPU it costs no more (no padding; 256 SciFact abstracts took the
        same time one by one as in batches of 4 to 64)."""
        encodings = self.tokenizer.encode_batch(self._prepare(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if len(encodings) > 1 and self.workers > 1:
            for row, vector in enumerate(self._executor().map(self._run, encodings)):
                out[row] = vector
        else:
            for row, encoding in enumerate(encodings):
                out[row] = self._run(encoding)
        return out

    @property
    def workers(self) -> int:
        """How many texts run at a time."""
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
        return max(1, min(cpus, MAX_WORKERS))

    def _executor(self):
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._pool is None:
                # ONNX Runtime runs a session from several threads at once, and releases the
                # GIL while it runs.
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embedder")
            return self._pool

    def _run(self, encoding) -> np.ndarray:
        """One text's unit-length vector."""
        ids = np.asarray([encoding.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        session = self.float_session if ids.shape[1] <= SHORT_TOKENS else self.session
        hidden = session.run(None, feed)[0][0]
        vector = hidden[0] if self.layout.pooling == "cls" else hidden.mean(axis=0)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.onnx_embedder [FOLDER NAME]``: export the bundled embedder (or the
    sentence-transformers folder given) if it has no export yet; prints where it is.
    ``--bundle DIR``: export the bundled embedder into DIR for the installed app (7-bit int8,
    named by :data:`BUNDLED_KEY`)."""
    args = sys.argv[1:] if argv is None else argv
    if not available():
        print("onnxruntime is not installed; the embedder runs on sentence-transformers")
        return 0
    from engine import bundled

    if args[:1] == ["--bundle"]:
        os.environ["TAILOR_EMBEDDER_FLAVOUR"] = "int8r"
        target = Path(args[1]) / f"{_safe(bundled.DEFAULT_EMBEDDER_NAME)}-{BUNDLED_KEY}.onnx"
        target.parent.mkdir(parents=True, exist_ok=True)
        export(Layout(bundled.default_embedder_path()), target)
        print(target)
        return 0

    folder = Path(args[0]) if args else bundled.default_embedder_path()
    name = args[1] if len(args) > 1 else bundled.DEFAULT_EMBEDDER_NAME
    print(ensure(Layout(folder), name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
