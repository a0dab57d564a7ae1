"""Whether a training job fits this machine: the first NVIDIA GPU (or the CPU and its memory),
and a rough estimate of the memory training needs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from engine.finetune.options import TrainOptions


def estimate_memory(parameters: int, n_layers: int, options: TrainOptions, gpu: bool) -> int:
    """Bytes training needs, roughly: the dequantised weights (fp32 on CPU, 16-bit or 4-bit on
    a GPU), LoRA weights with Adam's state, and activations for one micro-batch."""
    weight_bytes = 0.55 if (gpu and options.load_in_4bit) else (2 if gpu else 4)
    hidden = max(256, int((parameters / max(n_layers, 1) / 12) ** 0.5))
    lora = n_layers * len(options.target_modules) * options.rank * hidden * 4
    activations = options.batch_size * options.max_seq_length * hidden * n_layers * 34
    runtime = 1.2e9 if not gpu else 0.6e9  # torch, Unsloth and the tokenizer themselves
    return int(parameters * weight_bytes + lora * 4 * 4 + activations + runtime)


@dataclass
class HardwareCheck:
    gpu: str | None
    available_bytes: int
    needed_bytes: int
    ok: bool
    advice: str

    def summary(self) -> str:
        where = f"GPU {self.gpu}" if self.gpu else "CPU (no NVIDIA GPU found)"
        return (
            f"{where} · needs about {self.needed_bytes / 2**30:.1f} GiB, "
            f"{self.available_bytes / 2**30:.1f} GiB free"
        )


def nvidia_gpu() -> tuple[str, int] | None:
    """The first NVIDIA GPU's name and free memory in bytes, from ``nvidia-smi`` (milliseconds,
    where importing torch to ask would take seconds and half a gigabyte)."""
    import shutil

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()[0]
        name, free_mib = (part.strip() for part in out.rsplit(",", 1))
        return name, int(float(free_mib)) * 2**20
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def hardware_check(parameters: int, n_layers: int, options: TrainOptions) -> HardwareCheck:
    """Whether training a model of this size with ``options`` fits in the free memory of the GPU
    (or, without one, of the machine), with advice when it does not or when it will be slow."""
    import psutil

    gpu_name, available = None, psutil.virtual_memory().available
    if gpu := nvidia_gpu():
        gpu_name, available = gpu
    needed = estimate_memory(parameters, n_layers, options, gpu_name is not None)
    ok = needed <= available
    advice = ""
    if not ok:
        advice = (
            "This will not fit in memory. Lower the maximum sequence length or the batch size, "
            "use a smaller rank, or pick a smaller base model"
            + ("; on a GPU, 4-bit loading helps most." if gpu_name else ".")
        )
    elif gpu_name is None:
        advice = (
            "No NVIDIA GPU: training runs on the CPU, which is slow — fine for a small "
            "model and a few hundred steps overnight."
        )
    return HardwareCheck(gpu_name, available, needed, ok, advice)
