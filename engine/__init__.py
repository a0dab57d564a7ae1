"""Tailor's engine: everything the app does, without a GUI.

The desktop app and the ``tailor`` command line are two thin front ends over this package.
It never imports Qt. Start from :class:`engine.api.Engine`.
"""

__version__ = "0.1.0"
