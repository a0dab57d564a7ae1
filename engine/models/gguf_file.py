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

# llama.cpp's own limits (ggml.h, gguf.cpp): a header past them is refused there too, and some
# keys are read with a type assertion that aborts the whole process, so their types are
# checked here first.
_MAX_DIMS = 4
_MAX_NAME = 64
_INT64_MAX = 2**63 - 1


def read_header(path: Path) -> tuple[dict, list[tuple[str, int, int, int]], int]:
    """Parse a GGUF header: (metadata, tensors as (name, elements, type, offset), data start).

    The layout and sizes come from the ``gguf`` package's constants; long arrays are replaced by
    their length. Everything llama.cpp's own reader refuses is refused here too (nested arrays,
    a bad alignment, duplicate names, more than 4 dimensions, tensors not laid out one after
    the other), as are wrongly typed keys that llama.cpp reads with an assertion. Raises
    ``ValueError``/``struct.error``/``IndexError`` on a damaged header.
    """
    import mmap
    import struct

    import gguf

    vt = gguf.GGUFValueType
    scalar = {
        vt.UINT8: "<B",
        vt.INT8: "<b",
        vt.UINT16: "<H",
        vt.INT16: "<h",
        vt.UINT32: "<I",
        vt.INT32: "<i",
        vt.FLOAT32: "<f",
        vt.BOOL: "<?",
        vt.UINT64: "<Q",
        vt.INT64: "<q",
        vt.FLOAT64: "<d",
    }
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = 8
        size = len(buf)

        def take(fmt: str):
            nonlocal pos
            if pos + struct.calcsize(fmt) > size:
                raise ValueError("the header runs past the end of the file")
            (value,) = struct.unpack_from(fmt, buf, pos)
            pos += struct.calcsize(fmt)
            return value

        def string() -> str:
            nonlocal pos
            n = take("<Q")
            if pos + n > size:
                raise ValueError("string runs past the end of the file")
            text = bytes(buf[pos : pos + n]).decode("utf-8", errors="replace")
            pos += n
            return text

        def value_type() -> gguf.GGUFValueType:
            code = take("<I")
            try:
                return vt(code)
            except ValueError:
                raise ValueError(f"unknown value type {code}") from None

        def array(key: str):
            nonlocal pos
            item, count = value_type(), take("<Q")
            if item == vt.ARRAY:
                raise ValueError(f"{key[:80]} is an array of arrays, which GGUF does not allow")
            # Each element takes at least a byte (a string, 8): more would run past the end.
            if count * (8 if item == vt.STRING else struct.calcsize(scalar[item])) > size - pos:
                raise ValueError(f"{key[:80]} is an array longer than the file")
            types[key] = (vt.ARRAY, item)
            if count <= _BIG_ARRAY:
                return [string() if item == vt.STRING else take(scalar[item]) for _ in range(count)]
            if item == vt.STRING:
                for _ in range(count):
                    n = take("<Q")  # before the +=, which would read pos first
                    pos += n
                if pos > size:
                    raise ValueError(f"{key[:80]} runs past the end of the file")
            else:
                pos += struct.calcsize(scalar[item]) * count
            return count

        n_tensors, n_kv = take("<Q"), take("<Q")
        # A key takes at least 12 bytes and a tensor 24: more than the file holds is damage.
        if n_tensors > size // 24 or n_kv > size // 12:
            raise ValueError("implausible tensor or key count")
        meta: dict = {}
        types: dict[str, tuple] = {}
        for _ in range(n_kv):
            key = string()
            if key in meta:
                raise ValueError(f"key {key[:80]!r} appears twice")
            kind = value_type()
            if kind == vt.ARRAY:
                meta[key] = array(key)
            else:
                types[key] = (kind,)
                meta[key] = string() if kind == vt.STRING else take(scalar[kind])
        _check_types(meta, types)
        align = meta.get("general.alignment", 32)
        if align == 0 or align & (align - 1):
            raise ValueError(f"general.alignment is {align}, not a power of two")

        tensors = []
        names: set[str] = set()
        expected = 0  # llama.cpp requires the tensors' data one after the other, in order
        for _ in range(n_tensors):
            name = string()
            if len(name.encode("utf-8")) >= _MAX_NAME or name in names:
                raise ValueError(f"tensor name {name[:80]!r} is too long or appears twice")
            names.add(name)
            n_dims = take("<I")
            if n_dims > _MAX_DIMS:
                raise ValueError(f"tensor {name!r} has {n_dims} dimensions (at most 4)")
            dims = [take("<Q") for _ in range(n_dims)]
            elements = 1
            for d in dims:
                elements *= d
            if elements > _INT64_MAX:
                raise ValueError(f"tensor {name!r} has an impossible shape {dims}")
            kind, offset = take("<I"), take("<Q")
            try:
                block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
            except (ValueError, KeyError):
                raise ValueError(f"tensor {name!r} has unknown type {kind}") from None
            if dims and dims[0] % block:
                raise ValueError(f"tensor {name!r} rows are not whole blocks of its type")
            if offset != expected:
                raise ValueError(f"tensor {name!r} data is at {offset}, expected {expected}")
            expected += (elements // block * type_size + align - 1) // align * align
            tensors.append((name, elements, kind, offset))
        data_start = (pos + align - 1) // align * align
    return meta, tensors, data_start


def _check_types(meta: dict, types: dict[str, tuple]) -> None:
    """Refuse keys whose type llama.cpp asserts (aborting the process) or relies on."""
    import gguf

    vt = gguf.GGUFValueType
    required = {
        "general.alignment": (vt.UINT32,),
        "general.architecture": (vt.STRING,),
        "general.name": (vt.STRING,),
        "general.type": (vt.STRING,),
        "tokenizer.chat_template": (vt.STRING,),
        "tokenizer.ggml.model": (vt.STRING,),
        "tokenizer.ggml.tokens": (vt.ARRAY, vt.STRING),
        "tokenizer.ggml.scores": (vt.ARRAY, vt.FLOAT32),
        "tokenizer.ggml.token_type": (vt.ARRAY, vt.INT32),
        "tokenizer.ggml.merges": (vt.ARRAY, vt.STRING),
    }
    for key, want in required.items():
        if key in types and types[key] != want:
            raise ValueError(f"{key} has the wrong type")
    # The vocabulary loader reads a score and a type for every token, unchecked.
    n_tokens = _length(meta.get("tokenizer.ggml.tokens"))
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        if key in meta and _length(meta[key]) != n_tokens:
            raise ValueError(f"{key} does not have one entry per token")


def _length(value) -> int:
    """An array's length, whether it was decoded (a list) or skipped (its count)."""
    return len(value) if isinstance(value, list) else int(value or 0)


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
    except (ValueError, KeyError, struct.error, IndexError, OverflowError) as exc:
        raise InvalidModelFile(f"{path.name} is damaged or incomplete ({exc}).") from None
    end = data_start + _data_size(tensors, meta.get("general.alignment", 32))
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
        context_length=_count(meta.get(f"{arch}.context_length")),
        has_chat_template=bool(template),
        chat_template=template,
        n_layers=_count(meta.get(f"{arch}.block_count")),
        file_size=size,
    )


def _count(value) -> int:
    """A whole-number metadata value, or 0 when it is missing or of another type (llama.cpp
    then refuses the file with its own message when it needs the value)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _data_size(tensors, align: int) -> int:
    import gguf

    end = 0
    for _name, elements, kind, offset in tensors:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
        end = max(end, offset + elements // block * type_size)
    return end


def _dominant_tensor_type(tensors) -> str:
    import gguf

    weight: dict[str, int] = {}
    for _name, elements, kind, _offset in tensors:
        name = gguf.GGMLQuantizationType(kind).name
        weight[name] = weight.get(name, 0) + elements
    return max(weight, key=weight.get) if weight else "unknown"
