"""Importing the machine-learning stack without its own chatter on the user's terminal.

``import sentence_transformers`` (through transformers) pulls in torchao and bitsandbytes,
which log warnings meant for their developers on stderr: a torch ``register_constant``
deprecation for two of torchao's enums, and bitsandbytes' "Failed to load CPU
gemm_4bit_forward from kernels-community". A user of ``tailor chat`` sees only Tailor's own
messages, so these libraries' loggers are set to errors only.

torch sets the level of its ``torch`` logger when it is imported, so torch is imported first and
its level set after; bitsandbytes keeps the level it is given. Real errors still show.
"""

from __future__ import annotations

import logging
import os
import threading

QUIET_LOGGERS = ("bitsandbytes", "torchao", "transformers", "sentence_transformers")
_done = threading.Lock()
_quiet = False


def quiet_ml_imports() -> None:
    """Call before importing torch, transformers, sentence-transformers or unsloth (idempotent,
    thread-safe); imports torch."""
    global _quiet
    with _done:
        if _quiet:
            return
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        import torch  # noqa: F401  (it sets its logger's level on import; ours comes after)

        logging.getLogger("torch").setLevel(logging.ERROR)
        _quiet = True
