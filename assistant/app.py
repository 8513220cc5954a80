"""The core's service container: one per process, shared by the CLI, the GUI and the tests.

It owns the config, the catalog and the vector bank, and loads each model role lazily, once, the
first time a feature needs it, so the window opens before any model is touched. Feature code lives in
its own module (chats/, library/, memory/, ml/, retrieval/) and takes an `App`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.config import Config
from assistant.library.catalog import Catalog
from assistant.memory.bank import Bank

log = logging.getLogger(__name__)
_EMBEDDER_FIX = "run `sticker-assistant models verify`; it says how to repair the embedder"


class ModelUnavailable(RuntimeError):
    """A model role could not be loaded: features that need it are off, the rest keep working."""

    def __init__(self, role: str, why: str, fix: str = "") -> None:
        super().__init__(f"the {role} model is unavailable ({why})" + (f"; fix: {fix}" if fix else ""))
        self.role, self.why, self.fix = role, why, fix


@dataclass
class Feature:
    name: str
    on: bool
    why: str = ""
    fix: str = ""


class App:
    def __init__(self, config: Config | None = None, *, data_dir: Path | str | None = None,
                 chroma_url: str | None = None) -> None:
        self.config = config or Config(data_dir, chroma_url=chroma_url)
        self.catalog = Catalog(self.config.catalog_path)
        self._bank: Bank | None = None
        self._lock = threading.RLock()
        self._clip = None
        self._clip_checked = False
        self._overrides: dict[str, object] = {}
        self.failed: dict[str, str] = {}  # role -> why it failed to load (features() reports it)

    # --- shared services ----------------------------------------------------------------------
    @property
    def bank(self) -> Bank:
        with self._lock:
            if self._bank is None:
                url = self.config.settings.chroma_url
                self._bank = Bank(path=None if url else self.config.chroma_dir, url=url)
            return self._bank

    @property
    def embedder(self):
        """The text embedder; raises ModelUnavailable (not a raw loader error) when it cannot load."""
        if "embedder" in self._overrides:
            if self._overrides["embedder"] is None:
                raise ModelUnavailable("embedder", "switched off", _EMBEDDER_FIX)
            return self._overrides["embedder"]
        from assistant.ml.embedder import get_embedder

        try:
            return get_embedder()
        except Exception as exc:  # noqa: BLE001 - any loader failure means the same to the user
            log.warning("embedder failed to load: %s", exc)
            self.failed["embedder"] = f"failed to load ({type(exc).__name__}: {exc})"
            raise ModelUnavailable("embedder", f"{type(exc).__name__}: {exc}", _EMBEDDER_FIX) from exc

    @property
    def clip(self):
        """The CLIP encoder, or None when no weights are installed (image features off)."""
        if "clip" in self._overrides:
            return self._overrides["clip"]
        with self._lock:
            if not self._clip_checked:
                from assistant.ml.clip import load_clip

                self._clip = load_clip(self.config)
                self._clip_checked = True
            return self._clip

    @property
    def describer(self):
        """The multimodal describer, or None when its two files are not installed (descriptions off)."""
        if "describer" in self._overrides:
            return self._overrides["describer"]
        from assistant.ml.describer import load_describer

        return load_describer(self.config)

    def override(self, role: str, obj: object) -> None:
        """Tests and benchmarks hand in a model for a role (e.g. a tiny open_clip)."""
        self._overrides[role] = obj

    def features(self) -> list[Feature]:
        """What works right now and what is off, in words a user can act on."""
        from assistant.ml.registry import Status, verify

        out = []
        for role, name in (("embedder", "Text matching and memory retrieval"),
                           ("ocr", "Reading words on stickers"),
                           ("summarizer", "Memory-bank summaries"),
                           ("clip", "Image matching, zero-shot labels and text-to-image search"),
                           ("describer", "One-line sticker descriptions")):
            if role in self._overrides:
                on = self._overrides[role] is not None
                out.append(Feature(name, on, "" if on else f"{role} model switched off",
                                   "" if on else "run `sticker-assistant models verify`"))
                continue
            if role in self.failed:
                out.append(Feature(name, False, f"{role} model {self.failed[role]}",
                                   "run `sticker-assistant models verify`; it says how to repair it"))
                continue
            st = verify(role, self.config.models_dir)
            if role == "describer" and st.status is Status.INSTALLED:  # a model without its projector
                st = verify("describer-projector", self.config.models_dir)
            on = st.status is Status.INSTALLED
            out.append(Feature(name, on, "" if on else f"{st.role} model {st.status.value}", st.fix))
        return out

    def close(self) -> None:
        self.catalog.close()
