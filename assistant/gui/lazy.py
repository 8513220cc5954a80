"""Views that reload from the catalog only when seen: a change marks them stale, and a hidden tab
reloads when it is next shown, so imports and background jobs never repaint tabs nobody looks at."""

from __future__ import annotations


class ReloadWhenShown:
    """Mix in before the Qt widget class; subclasses implement `reload_all()` (which clears `_stale`)."""

    _stale = True

    def reload_all(self) -> None:
        raise NotImplementedError

    def on_shown(self) -> None:
        if self._stale:
            self.reload_all()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)  # type: ignore[misc]
        self.on_shown()

    def mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():  # type: ignore[attr-defined]
            self.on_shown()
