"""Tailor's desktop app: a thin PySide6 front end over :mod:`engine`."""
