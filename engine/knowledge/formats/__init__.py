"""Parsers for the formats beyond plain text, PDF, Word and HTML (those are in
:mod:`engine.knowledge.parsing`, which calls these): OpenDocument and Office files
(:mod:`.office`), RTF, LaTeX, EPUB and e-mail (:mod:`.documents`), and OCR for scanned pages
and images (:mod:`.ocr`). Each raises :class:`engine.knowledge.parsing.Skip` with a reason."""
