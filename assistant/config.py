"""Where the user's data lives and the settings they chose.

One `Config` object is built at start-up (from `--data-dir` or the platform default) and handed to
every service, so tests point the whole app at a temporary directory with one argument.
Secrets (a remote LLM key) never enter the settings file: they go through `secrets.py` (keyring).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

APP_NAME = "sticker-assistant"
ENV_DATA_DIR = "STICKER_ASSISTANT_DATA_DIR"
ENV_MODELS_DIR = "STICKER_ASSISTANT_MODELS_DIR"
SETTINGS_FILE = "settings.json"

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_models_dir() -> Path:
    """Models are shared by every data dir of the user: a 0.5 GB GGUF should exist once per machine."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


@dataclass
class Settings:
    """User-editable settings, stored as JSON in the data dir. Unknown keys are kept, not dropped."""

    session_gap_minutes: float = 30.0  # silence that splits a chat into sessions (IGSR segments by time)
    device: str = "auto"  # auto | cpu | cuda | mps
    chroma_url: str | None = None  # a Chroma server instead of the embedded store
    summarizer_model: str = "summarizer"  # a registry role name or a path to any GGUF
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"
    remote_llm_url: str | None = None  # OpenAI-compatible endpoint, off by default
    remote_llm_model: str | None = None
    me_names: list[str] = field(default_factory=list)  # the user's own names across platforms
    watch_clipboard: bool = False
    suggest_k: int = 8
    debug_logging: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "Settings":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known and k != "extra"}
        extra = {k: v for k, v in data.items() if k not in known}
        extra.update(data.get("extra") or {})
        return cls(**kwargs, extra=extra)

    def to_dict(self) -> dict:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        return data


class Config:
    """The data-dir layout plus the settings; creates directories user-only (0700) on first use."""

    def __init__(self, data_dir: Path | str | None = None, models_dir: Path | str | None = None,
                 chroma_url: str | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir()
        self._models_dir = Path(models_dir).expanduser() if models_dir else None
        self.ensure_dirs()
        self.settings = self.load_settings()
        if chroma_url:
            self.settings.chroma_url = chroma_url

    # --- layout -------------------------------------------------------------------------------
    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def stickers_dir(self) -> Path:
        return self.data_dir / "stickers"

    @property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def heads_dir(self) -> Path:
        """Checkpoints the user trained here (small heads, never downloaded weights)."""
        return self.data_dir / "heads"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def models_dir(self) -> Path:
        return self._models_dir or default_models_dir()

    @property
    def settings_path(self) -> Path:
        return self.data_dir / SETTINGS_FILE

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.stickers_dir, self.thumbs_dir, self.logs_dir, self.heads_dir,
                  self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
            if os.name == "posix":
                os.chmod(d, 0o700)

    # --- settings -----------------------------------------------------------------------------
    def load_settings(self) -> Settings:
        try:
            data = json.loads(self.settings_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Settings()
        except (OSError, ValueError) as exc:
            log.warning("settings file %s unreadable (%s); using defaults", self.settings_path, exc)
            return Settings()
        return Settings.from_dict(data if isinstance(data, dict) else {})

    def save_settings(self) -> None:
        """Write atomically: a crash mid-write must not leave a truncated settings file."""
        atomic_write_text(self.settings_path, json.dumps(self.settings.to_dict(), indent=2,
                                                         ensure_ascii=False))

    # --- logging ------------------------------------------------------------------------------
    def setup_logging(self, verbose: bool = False) -> None:
        level = logging.DEBUG if (verbose or self.settings.debug_logging) else logging.INFO
        root = logging.getLogger()
        root.setLevel(level)
        if not any(getattr(h, "_sticker_assistant", False) for h in root.handlers):
            handler = logging.handlers.RotatingFileHandler(self.logs_dir / "app.log", maxBytes=2_000_000,
                                                           backupCount=3, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            handler._sticker_assistant = True  # type: ignore[attr-defined]
            root.addHandler(handler)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
