"""Small GGUF files written with the gguf package, for the model-validation tests."""

from pathlib import Path

import numpy as np


def write_gguf(path: Path, arch: str = "llama", kind: str | None = None) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny test model")
    writer.add_context_length(256)
    writer.add_block_count(1)
    if kind:
        writer.add_string("general.type", kind)
    writer.add_tensor("token_embd.weight", np.ones((16, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
