"""What the one-folder bundle keeps, by each file's path inside it (the spec filters PyInstaller's
collection through `keep`). Plain Python without PyInstaller, so tests can check the rules directly.

Left out: test suites and headers of dependencies, __pycache__, the Qt plugins and libraries a
widgets app does not use (PyInstaller's PySide6 hooks collect every plugin, and a few of them drag in
QtQuick/QtQml/QtNetwork), and, in the CPU build, every CUDA library.
"""

from __future__ import annotations

import re

# Python modules left out of the analysis. Never list one that a kept module imports at import time
# (tests/packaging checks this against what the app's real code paths import): sympy.plotting and
# torch.testing._internal looked unused and are not.
EXCLUDES = [
    # development and test tools
    "pytest", "_pytest", "hypothesis", "pytestqt", "IPython", "jupyter", "notebook", "tkinter",
    "torch.utils.tensorboard", "tensorboard", "chromadb.test",
    # heavy libraries pulled in by optional code paths of dependencies; the app never uses them
    "matplotlib", "pandas", "polars", "pyarrow", "plotly", "kubernetes", "faiss", "sklearn",
    "onnx", "timm", "tensorflow", "jax", "paddle", "openvino", "MNN", "tensorrt",
    # Qt modules the widgets GUI does not use (Essentials ships them)
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtNetwork", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtPdf",
    "PySide6.QtPdfWidgets", "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtPrintSupport",
    "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtXml", "PySide6.QtConcurrent", "PySide6.QtUiTools",
    "PySide6.QtSvgWidgets", "PySide6.QtDBus", "PySide6.QtStateMachine",
]

# Qt plugins a widgets app needs (per plugin folder: None keeps the folder, a set keeps those names).
KEEP_PLUGINS = {
    "platforms": {"qxcb", "qoffscreen", "qwayland", "qwayland-generic", "qwayland-egl", "qminimal",
                  "qwindows", "qdirect2d", "qcocoa"},
    "imageformats": {"qgif", "qjpeg", "qwebp", "qsvg", "qico", "qicns"},
    "iconengines": None,
    # xdg-desktop-portal gives native file dialogs; the GTK3 theme would drag a private copy of GTK's
    # libraries (cairo, pango, gdk-pixbuf, glib) that clash with the desktop's own
    "platformthemes": {"qxdgdesktopportal"},
    "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
    "xcbglintegrations": None,
    "wayland-decoration-client": None,
    "wayland-graphics-integration-client": None,
    "wayland-shell-integration": None,
    "styles": None,
}
# Qt libraries those plugins and QtCore/QtGui/QtWidgets link against.
KEEP_QT_LIBS = {"Core", "Gui", "Widgets", "DBus", "Svg", "OpenGL", "XcbQpa", "WaylandClient",
                "WlShellIntegration", "WaylandEglClientHwIntegration"}

_CUDA = re.compile(r"(^|/)(nvidia/|libcu(da|blas|fft|rand|solver|sparse|dnn|pti|dss|file|sparselt)"
                   r"|libnv(rtc|JitLink|ToolsExt|shmem)|libnccl|cudnn|cublas|cufft|curand|cusolver|cusparse"
                   r"|libonnxruntime_providers_(cuda|tensorrt))", re.I)


def _plugin_name(file: str) -> str:
    stem = file.split(".")[0]
    return stem[3:] if stem.startswith("lib") else stem


def _qt_lib_name(file: str) -> str | None:
    m = re.match(r"^(?:lib)?Qt6([A-Za-z]+)\.(?:so|dll|dylib)", file) or re.match(r"^Qt([A-Za-z]+)$", file)
    return m.group(1) if m else None


def keep(dest: str, variant: str = "cpu") -> bool:
    """Whether a collected file (by its path inside the bundle) belongs in the app."""
    d = dest.replace("\\", "/")
    parts = d.split("/")
    if "__pycache__" in parts or d.endswith((".pyc", ".pyi", ".h", ".hpp", ".cuh", ".cmake", ".lib", ".a")):
        return False
    # test suites and headers of the dependencies
    if any(p in ("test", "tests", "testing_data") for p in parts[:-1]):
        return False
    if d.startswith("torch/bin/"):  # `import torch` checks for its shared-memory helper; the rest are tests
        return parts[-1] in ("torch_shm_manager", "torch_shm_manager.exe")
    if d.startswith(("torch/include/", "torch/share/", "torch/utils/benchmark/", "torchgen/packaged/", "chromadb/test/")):
        return False
    if parts[-1] in ("libtorchbind_test.so", "libaoti_custom_ops.so", "libbackend_with_compiler.so",
                     "libjitbackend_test.so"):
        return False
    if variant == "cpu" and _CUDA.search(d):
        return False
    if "plugins" in parts:  # Qt plugins: PySide6/Qt/plugins/<folder>/<file> (or PySide6/plugins/...)
        i = parts.index("plugins")
        if len(parts) > i + 2:
            folder, name = parts[i + 1], _plugin_name(parts[-1])
            if folder not in KEEP_PLUGINS:
                return False
            allowed = KEEP_PLUGINS[folder]
            return allowed is None or name in allowed
    if parts[0] == "PySide6" or "Qt" in parts:
        for p in parts:
            lib = _qt_lib_name(p.split(".framework")[0] if p.endswith(".framework") else p)
            if lib is not None:
                return lib in KEEP_QT_LIBS
        if "translations" in parts and not parts[-1].startswith(("qt_", "qtbase_")):
            return False  # keep Qt's own message translations, not those of unused modules
        if "qml" in parts or "metatypes" in parts or "typesystems" in parts or "glue" in parts:
            return False
    return True
