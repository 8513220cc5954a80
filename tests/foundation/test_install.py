"""The CPU environment is what the constraints promise: torch 2.13.0 and no CUDA wheels."""

import importlib.metadata as md


def test_torch_is_pinned_cpu_build():
    import torch

    assert torch.__version__.split("+")[0] == "2.13.0"


def test_no_nvidia_distributions_installed():
    nvidia = sorted({d.metadata["Name"] for d in md.distributions()
                     if (d.metadata["Name"] or "").lower().startswith("nvidia-")})
    assert nvidia == [], f"CUDA wheels leaked into the CPU environment: {nvidia}"


def test_open_clip_imports_through_the_shim():
    from assistant.ml.torchvision_shim import ensure_torchvision

    ensure_torchvision()
    import open_clip

    assert "ViT-B-32" in open_clip.list_models()


def test_core_never_imports_qt():
    import subprocess
    import sys

    code = ("import sys, assistant.cli, assistant.app, assistant.chats, assistant.library.catalog, "
            "assistant.memory.bank, assistant.ml.registry\n"
            "bad=[m for m in sys.modules if m.startswith(('PySide6','PyQt','shiboken'))]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    # and no module outside assistant/gui mentions Qt bindings at all
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "assistant"
    offenders = [str(p) for p in root.rglob("*.py") if "gui" not in p.relative_to(root).parts[:1]
                 and ("import PySide6" in p.read_text() or "from PySide6" in p.read_text())]
    assert offenders == []
