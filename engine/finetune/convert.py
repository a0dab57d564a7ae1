"""Conversions between the GGUF world Tailor runs and the Hugging Face world training needs.

* :func:`dequantise` turns a (quantised) GGUF into a local Hugging Face folder in float32 —
  config, safetensors weights and tokenizer with its chat template — that Unsloth/PEFT load.
* :func:`peft_to_gguf` turns the PEFT LoRA adapter trained on that folder into a llama.cpp LoRA
  adapter GGUF, applied on top of the *original* GGUF at run time.

The two are inverse to each other: transformers un-permutes the query/key rows of llama GGUFs
when it dequantises them (llama.cpp stores them permuted for its RoPE layout), so the LoRA
``B`` matrices of ``q_proj``/``k_proj`` must be permuted back the same way before llama.cpp
can add them to its own weights.

torch, transformers and gguf are imported lazily, inside the functions.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

from engine.errors import NotFound, TailorError
from engine.models.gguf_file import read_header

# Architectures the LoRA writer handles, with whether q/k rows need llama.cpp's head
# permutation. The rule is "undo what transformers' GGUF loader did": it reverse-permutes
# attn_q/attn_k for 'llama' GGUFs only (Mistral GGUFs are 'llama' too); qwen2/qwen3 load
# unchanged and their HF names map one-to-one onto GGUF names. Only 'llama' has been checked
# numerically against llama.cpp (qwen2/qwen3 follow from the same rule); every other family
# is refused rather than guessed at.
LORA_ARCHITECTURES: dict[str, bool] = {"llama": True, "qwen2": False, "qwen3": False}

MARKER = ".tailor-dequantised.json"
_PEFT_PREFIX = "base_model.model."


class UnsupportedArchitecture(TailorError):
    """The model's architecture cannot be fine-tuned (dequantised, or its LoRA exported)."""


class UnsupportedAdapter(TailorError):
    """A PEFT adapter uses a feature llama.cpp LoRA adapters cannot express."""


def check_supported(architecture: str) -> None:
    """Raise :class:`UnsupportedArchitecture` unless a GGUF ``architecture`` can be fine-tuned.

    Cheap (no torch/transformers import): every family the LoRA writer handles is one the
    installed transformers dequantises, so the writer's list is the whole answer.
    """
    if architecture not in LORA_ARCHITECTURES:
        raise _unsupported(architecture, sorted(LORA_ARCHITECTURES), "fine-tuned")


def dequantisable_architectures() -> list[str]:
    """GGUF architectures the installed transformers can dequantise, as it names them."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer"))


def _squash(name: str) -> str:
    # GGUF writes 'qwen2moe'/'gpt-oss' where transformers lists 'qwen2_moe'/'gpt_oss'.
    return name.replace("_", "").replace("-", "")


def gguf_architecture(gguf_path: Path) -> tuple[str, dict]:
    """``general.architecture`` and the whole (short-array) metadata of a GGUF."""
    meta, _tensors, _start = read_header(Path(gguf_path))
    return str(meta.get("general.architecture", "")), meta


def dequantise(gguf_path: Path, out_dir: Path, sha256: str | None = None) -> Path:
    """Write ``out_dir`` as a float32 Hugging Face model folder made from ``gguf_path``.

    Idempotent: a folder holding a finished-conversion marker for the same file (name, size
    and — when given — the SHA-256 of its content) is returned as it is; a marker for another
    file is refused rather than trained on. The work happens in a sibling ``.partial`` folder
    that is renamed into place at the end, so an interrupted run leaves nothing that looks
    finished. Needs about 4 bytes of RAM and disk per parameter. Raises
    :class:`UnsupportedArchitecture` for architectures transformers cannot dequantise.
    """
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise NotFound(f"The model file {gguf_path} does not exist.")
    source = {"file": gguf_path.name, "size": gguf_path.stat().st_size}
    if sha256:
        source["sha256"] = sha256
    marker = out_dir / MARKER
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("source") == source:
            return out_dir
        raise TailorError(f"{out_dir} already holds a conversion of {done.get('source')}.")
    if out_dir.exists():
        raise TailorError(f"{out_dir} exists and is not a finished conversion; remove it first.")

    arch, meta = gguf_architecture(gguf_path)
    supported = dequantisable_architectures()
    if _squash(arch) not in {_squash(a) for a in supported}:
        raise _unsupported(arch, supported, "converted for training")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except ValueError as exc:
        if "not supported" in str(exc):
            raise _unsupported(arch, supported, "converted for training") from exc
        raise
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    _strip_gguf_quantisation(model)
    _fix_special_tokens(tokenizer, meta, arch)

    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    record = {"source": source, "architecture": arch, "seconds": time.monotonic() - started}
    (partial / MARKER).write_text(json.dumps(record, indent=2))
    os.replace(partial, out_dir)
    return out_dir


def _unsupported(arch: str, supported: list[str], what: str) -> UnsupportedArchitecture:
    return UnsupportedArchitecture(
        f"'{arch}' models cannot be {what} yet. Supported families: {', '.join(supported)}."
    )


def _strip_gguf_quantisation(model) -> None:
    """Make a GGUF-loaded model saveable: its weights are already plain float tensors.

    ``save_pretrained`` refuses while ``hf_quantizer`` is set, and a saved
    ``quantization_config`` would make the folder reload through the GGUF quantizer.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _fix_special_tokens(tokenizer, meta: dict, arch: str) -> None:
    """Take bos/eos/unk/pad from the GGUF's own ids and the context length from its header.

    transformers' GGUF tokenizer conversion gets these wrong for some models (SmolLM2's eos
    came out as ``<|im_start|>``), and SFT appends ``eos_token`` to every answer.
    """
    for role, key in (
        ("bos_token", "bos_token_id"),
        ("eos_token", "eos_token_id"),
        ("unk_token", "unknown_token_id"),
        ("pad_token", "padding_token_id"),
    ):
        token_id = meta.get(f"tokenizer.ggml.{key}")
        if isinstance(token_id, int) and 0 <= token_id < len(tokenizer):
            setattr(tokenizer, role, tokenizer.convert_ids_to_tokens(token_id))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    context = meta.get(f"{arch}.context_length")
    if isinstance(context, int) and context > 0:
        tokenizer.model_max_length = context


def _permute_rows(w, n_head: int):
    """llama.cpp's ``LlamaModel.permute`` on the output rows of ``w`` (out, …)."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def peft_to_gguf(adapter_dir: Path, base_gguf: Path, out_path: Path, f16: bool = False) -> Path:
    """Write the PEFT LoRA in ``adapter_dir`` as a llama.cpp LoRA adapter for ``base_gguf``.

    Tensors are stored as ``<gguf tensor>.weight.lora_a`` (rank × in) and ``.lora_b``
    (out × rank), float32 unless ``f16``; ``adapter.lora.alpha`` carries the scale, which
    llama.cpp applies as alpha / rank. The file is written next to ``out_path`` and renamed
    into place. Raises :class:`UnsupportedArchitecture` for base models the writer does not
    handle and :class:`UnsupportedAdapter` for adapter features or tensors it cannot map.
    """
    import gguf
    import numpy as np
    from safetensors.torch import load_file  # torch, not numpy: adapters may be bfloat16

    adapter_dir, base_gguf, out_path = Path(adapter_dir), Path(base_gguf), Path(out_path)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    alpha = _lora_alpha(config)

    meta, base_tensors, _start = read_header(base_gguf)
    arch = str(meta.get("general.architecture", ""))
    if arch not in LORA_ARCHITECTURES:
        raise _unsupported(arch, sorted(LORA_ARCHITECTURES), "exported as LoRA adapters")
    permute = LORA_ARCHITECTURES[arch]
    n_head = int(meta[f"{arch}.attention.head_count"])
    n_head_kv = int(meta.get(f"{arch}.attention.head_count_kv", n_head))
    base_sizes = {name: elements for name, elements, _kind, _offset in base_tensors}
    arch_id = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch]
    names = gguf.get_tensor_name_map(arch_id, int(meta[f"{arch}.block_count"]))

    dtype = np.float16 if f16 else np.float32
    pairs: dict[str, dict[str, np.ndarray]] = {}
    problems: list[str] = []
    for key, value in load_file(adapter_dir / "adapter_model.safetensors").items():
        module, dot, part = key.removeprefix(_PEFT_PREFIX).rpartition(".lora_")
        if not dot or part not in ("A.weight", "B.weight"):
            problems.append(f"{key}: not a LoRA A/B matrix (only linear layers are supported)")
            continue
        pairs.setdefault(module, {})[part[0]] = value.float().numpy()

    tensors: list[tuple[str, np.ndarray]] = []
    for module, ab in sorted(pairs.items()):
        target = names.get_name(module)
        if target is None or f"{target}.weight" not in base_sizes:
            problems.append(f"{module}: no matching tensor in {base_gguf.name}")
            continue
        if set(ab) != {"A", "B"}:
            problems.append(f"{module}: lora_A or lora_B is missing")
            continue
        a, b = ab["A"], ab["B"]
        if a.shape[0] != b.shape[1] or a.shape[1] * b.shape[0] != base_sizes[f"{target}.weight"]:
            problems.append(f"{module}: shapes {a.shape} / {b.shape} do not fit the base tensor")
            continue
        if permute and target.endswith(".attn_q"):
            b = _permute_rows(b, n_head)
        elif permute and target.endswith(".attn_k"):
            b = _permute_rows(b, n_head_kv)
        tensors.append((f"{target}.weight.lora_a", np.ascontiguousarray(a, dtype=dtype)))
        tensors.append((f"{target}.weight.lora_b", np.ascontiguousarray(b, dtype=dtype)))
    if problems or not tensors:
        raise UnsupportedAdapter(
            "This adapter cannot be converted for llama.cpp:\n"
            + "\n".join(f"  - {p}" for p in problems or ["it holds no LoRA tensors"])
        )

    partial = out_path.with_name(out_path.name + ".partial")
    writer = gguf.GGUFWriter(partial, arch)  # also writes general.architecture
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(adapter_dir.name)
    for name, data in tensors:
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, out_path)
    return out_path


def _lora_alpha(config: dict) -> float:
    """The alpha llama.cpp needs (it scales by alpha / rank); refuses what it cannot express."""
    unsupported = [
        label
        for label, present in (
            ("a PEFT type other than LoRA", config.get("peft_type", "LORA") != "LORA"),
            ("DoRA", config.get("use_dora")),
            ("per-module alphas (alpha_pattern)", config.get("alpha_pattern")),
            ("LoRA biases", config.get("lora_bias")),
            ("fully trained extra modules (modules_to_save)", config.get("modules_to_save")),
            (
                "rsLoRA with per-module ranks",
                config.get("use_rslora") and config.get("rank_pattern"),
            ),
        )
        if present
    ]
    if unsupported:
        raise UnsupportedAdapter(f"llama.cpp adapters cannot express {', '.join(unsupported)}.")
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        # PEFT scales by alpha / sqrt(r); llama.cpp by alpha / r.
        alpha *= math.sqrt(int(config["r"]))
    return alpha
