"""Structure-aware chunking: headings and paragraphs first, then token windows with overlap.

Token counts use the embedder's own tokenizer (the ``tokenizers`` library reading its
``tokenizer.json``, no torch), so a chunk never exceeds what the embedder reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.knowledge.parsing import Section

PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass
class Chunk:
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None


@lru_cache(maxsize=4)
def load_tokenizer(folder: str):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class Chunker:
    def __init__(self, tokenizer_folder: Path, max_tokens: int = 200, overlap: int = 32):
        if overlap >= max_tokens:
            raise ValueError("overlap must be smaller than the chunk size")
        self.tokenizer = load_tokenizer(str(tokenizer_folder))
        self.max_tokens = max_tokens
        self.overlap = overlap

    def count(self, texts: list[str]) -> list[int]:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def chunk(self, sections: list[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in sections:
            chunks.extend(self._section(section))
        return chunks

    def _section(self, section: Section) -> list[Chunk]:
        # Paragraph spans inside the section, with their offsets.
        spans, last = [], 0
        for match in PARAGRAPH.finditer(section.text):
            spans.append((last, match.start()))
            last = match.end()
        spans.append((last, len(section.text)))
        spans = [(a, b) for a, b in spans if section.text[a:b].strip()]
        if not spans:
            return []
        sizes = self.count([section.text[a:b] for a, b in spans])
        out: list[Chunk] = []
        group: list[int] | None = None  # [start, end, tokens] of paragraphs packed so far
        for (a, b), n in zip(spans, sizes, strict=True):
            if group is not None and group[2] + n <= self.max_tokens:
                group[1], group[2] = b, group[2] + n
            elif n <= self.max_tokens:
                if group is not None:
                    out.append(self._make(section, group[0], group[1]))
                group = [a, b, n]
            else:
                # A paragraph longer than a chunk: window over it together with whatever was
                # pending, so a title or a short lead-in is not left as a chunk of its own.
                out.extend(self._windows(section, group[0] if group else a, b))
                group = None
        if group is not None:
            out.append(self._make(section, group[0], group[1]))
        return out

    def _windows(self, section: Section, a: int, b: int) -> list[Chunk]:
        """Equal, overlapping token windows over ``text[a:b]``, cut at token edges."""
        offsets = self.tokenizer.encode(section.text[a:b], add_special_tokens=False).offsets
        total = len(offsets)
        stride = self.max_tokens - self.overlap
        count = max(1, math.ceil((total - self.overlap) / stride))
        size = math.ceil((total + (count - 1) * self.overlap) / count)
        out = []
        for i in range(count):
            first = i * (size - self.overlap)
            last = min(first + size, total) - 1
            out.append(self._make(section, a + offsets[first][0], a + offsets[last][1]))
        return out

    @staticmethod
    def _make(section: Section, a: int, b: int) -> Chunk:
        return Chunk(
            text=section.text[a:b].strip(),
            start=section.start + a,
            end=section.start + b,
            page=section.page,
            heading=section.heading,
        )
