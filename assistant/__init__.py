"""Sticker Assistant: suggests the right chat sticker from the user's own collection and history.

The core package never imports Qt; `assistant.gui` is the only place that does.
"""

__version__ = "0.1.0"
