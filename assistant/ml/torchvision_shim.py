"""Make open_clip importable on CPU torch when pip picked a CUDA build of torchvision.

With `torch==2.13.0` (CPU), open_clip_torch 3.3.0 resolves `torchvision==0.28.0`, whose compiled ops
need CUDA torch: `import torchvision` then fails with "operator torchvision::nms does not exist",
because torchvision registers Python fake kernels for `nms`/`qnms` whose schemas its `_C.so` never
defined. Defining those two schemas first lets torchvision (and so open_clip's transforms) import.
`torchvision.ops` stays unusable, and nothing here calls it. On a machine where torchvision's own
ops load (a CUDA install), this does nothing.
"""

from __future__ import annotations

import torch

_LIB = None  # must stay referenced: dropping the Library object unregisters the schemas


def ensure_torchvision() -> None:
    global _LIB
    if _LIB is not None:
        return
    try:
        torch.ops.torchvision.nms  # noqa: B018 - probing whether the real op is registered
        return
    except (AttributeError, RuntimeError):
        pass
    try:
        import torchvision  # noqa: F401

        return  # imported fine on its own (e.g. a matching CPU build)
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
    import sys

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    lib = torch.library.Library("torchvision", "FRAGMENT")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB = lib
    import torchvision  # noqa: F401,F811
