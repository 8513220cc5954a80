"""Pick the compute device once: CUDA, then MPS, then CPU, unless the user pinned one in settings."""

from __future__ import annotations


def pick_device(preference: str = "auto") -> str:
    import torch

    if preference not in ("auto", ""):
        if preference == "cuda" and not torch.cuda.is_available():
            return "cpu"
        return preference
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def training_device(preference: str = "auto") -> str:
    """`pick_device` for training and evaluation runs: their AMP path is CUDA's, so anything but
    CUDA (MPS included) trains on the CPU."""
    return "cuda" if pick_device(preference) == "cuda" else "cpu"
