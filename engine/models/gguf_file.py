"""What a GGUF file says about itself, checked before llama.cpp ever sees the file.

llama.cpp aborts the whole process on some malformed files, so every model is read here first:
magic and version, that every tensor's data lies inside the file (catches truncated downloads),
and that the architecture is one llama.cpp knows. Type codes, block sizes and architecture
names come from the ``gguf`` package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import InvalidModelFile

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelInfo:
    """The facts shown for a model, all read from its GGUF header."""

    architecture: str
    name: str
    parameters: int
    quantization: str
    context_length: int
    has_chat_template: bool
    chat_template: str
    n_layers: int
    file_size: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelInfo:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})

    @property
    def parameters_label(self) -> str:
        """Parameter count the way model cards write it: 135M, 1.7B."""
        n = self.parameters
        if n >= 1e9:
            return f"{n / 1e9:.1f}B"
        return f"{n / 1e6:.0f}M"


def supported_architectures() -> set[str]:
    import gguf

    return set(gguf.MODEL_ARCH_NAMES.values())


# Arrays longer than this (the tokenizer's vocabulary, merges, scores) are skipped, not decoded:
# gguf.GGUFReader decodes every element in Python, which took ~5 s for a 49k vocabulary here.
_BIG_ARRAY = 64


def read_header(path: Path) -> tuple[dict, list[tuple[str, int, int, int]], int]:
    """Parse a GGUF header: (metadata, tensors as (name, elements, type, offset), data start).

    The layout and sizes come from the ``gguf`` package's constants; long arrays are replaced by
    their length. Raises ``ValueError``/``struct.error``/``IndexError`` on a damaged header.
    """
    import mmap
    import struct

    import gguf

    scalar = {
        gguf.GGUFValueType.UINT8: "<B",
        gguf.GGUFValueType.INT8: "<b",
        gguf.GGUFValueType.UINT16: "<H",
        gguf.GGUFValueType.INT16: "<h",
        gguf.GGUFValueType.UINT32: "<I",
        gguf.GGUFValueType.INT32: "<i",
        gguf.GGUFValueType.FLOAT32: "<f",
        gguf.GGUFValueType.BOOL: "<?",
        gguf.GGUFValueType.UINT64: "<Q",
        gguf.GGUFValueType.INT64: "<q",
        gguf.GGUFValueType.FLOAT64: "<d",
    }
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = 8

        def take(fmt: str):
            nonlocal pos
            (value,) = struct.unpack_from(fmt, buf, pos)
            pos += struct.calcsize(fmt)
            return value

        def string() -> str:
            nonlocal pos
            n = take("<Q")
            if pos + n > len(buf):
                raise ValueError("string runs past the end of the file")
            text = bytes(buf[pos : pos + n]).decode("utf-8", errors="replace")
            pos += n
            return text

        def value(kind: int, keep: bool = True):
            nonlocal pos
            kind = gguf.GGUFValueType(kind)
            if kind == gguf.GGUFValueType.STRING:
                return string()
            if kind == gguf.GGUFValueType.ARRAY:
                item, count = gguf.GGUFValueType(take("<I")), take("<Q")
                if count > len(buf):
                    raise ValueError("array longer than the file")
                keep = count <= _BIG_ARRAY
                if item in scalar and not keep:
                    pos += struct.calcsize(scalar[item]) * count
                    return count
                if item == gguf.GGUFValueType.STRING and not keep:
                    for _ in range(count):
                        pos += 8 + struct.unpack_from("<Q", buf, pos)[0]
                    return count
                items = [value(item, keep) for _ in range(count)]
                return items if keep else count
            return take(scalar[kind])

        n_tensors, n_kv = take("<Q"), take("<Q")
        if n_tensors > len(buf) or n_kv > len(buf):
            raise ValueError("implausible tensor or key count")
        meta = {}
        for _ in range(n_kv):
            key = string()
            meta[key] = value(take("<I"))
        tensors = []
        for _ in range(n_tensors):
            name = string()
            dims = [take("<Q") for _ in range(take("<I"))]
            kind, offset = take("<I"), take("<Q")
            elements = 1
            for d in dims:
                elements *= d
            tensors.append((name, elements, kind, offset))
        align = int(meta.get("general.alignment", 32))
        data_start = (pos + align - 1) // align * align
    return meta, tensors, data_start


def inspect(path: Path) -> ModelInfo:
    """Read and validate the GGUF at ``path``; raise :class:`InvalidModelFile` with the reason."""
    import struct

    import gguf

    path = Path(path)
    if not path.is_file():
        raise InvalidModelFile(f"{path} does not exist or is not a file.")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
    if head[:4] != GGUF_MAGIC:
        raise InvalidModelFile(
            f"{path.name} is not a GGUF model file. Tailor runs quantised GGUF models "
            "(the format llama.cpp uses); look for a file ending in .gguf."
        )
    version = int.from_bytes(head[4:8], "little")
    if version not in (2, 3):
        raise InvalidModelFile(f"{path.name} uses GGUF version {version}; Tailor reads 2 and 3.")
    try:
        meta, tensors, data_start = read_header(path)
        end = data_start
        for _name, elements, kind, offset in tensors:
            block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
            end = max(end, data_start + offset + elements // block * type_size)
    except (ValueError, KeyError, struct.error, IndexError) as exc:
        raise InvalidModelFile(f"{path.name} is damaged or incomplete ({exc}).") from None
    if not tensors or end > size:
        raise InvalidModelFile(
            f"{path.name} is incomplete: it is {size:,} bytes but its tensors need {end:,}. "
            "The download was probably cut short; download it again."
        )

    arch = meta.get("general.architecture")
    if not arch:
        raise InvalidModelFile(f"{path.name} does not name its architecture.")
    if meta.get("general.type") == "adapter":
        raise InvalidModelFile(f"{path.name} is a LoRA adapter, not a model.")
    if arch not in supported_architectures():
        raise InvalidModelFile(
            f"{path.name} is a '{arch}' model, which this version of llama.cpp cannot run."
        )
    try:
        quant = gguf.LlamaFileType(meta.get("general.file_type")).name.removeprefix("MOSTLY_")
    except (ValueError, TypeError):
        quant = _dominant_tensor_type(tensors)
    template = meta.get("tokenizer.chat_template") or ""
    return ModelInfo(
        architecture=arch,
        name=str(meta.get("general.name", path.stem)),
        parameters=sum(t[1] for t in tensors),
        quantization=quant,
        context_length=int(meta.get(f"{arch}.context_length", 0) or 0),
        has_chat_template=bool(template),
        chat_template=template if isinstance(template, str) else "",
        n_layers=int(meta.get(f"{arch}.block_count", 0) or 0),
        file_size=size,
    )


def _dominant_tensor_type(tensors) -> str:
    import gguf

    weight: dict[str, int] = {}
    for _name, elements, kind, _offset in tensors:
        name = gguf.GGMLQuantizationType(kind).name
        weight[name] = weight.get(name, 0) + elements
    return max(weight, key=weight.get) if weight else "unknown"
