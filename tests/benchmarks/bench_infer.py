"""Model inference, side by side (issue 9's "≤ 10 ms per image at batch 8 on 2 cores"): each model's
onnxruntime session as the app builds it (``core.model.runtime``: every graph optimisation, 2 intra-op
threads), on the same batches of FracAtlas developer images letterboxed by ``prepare`` (random images
when the shared data is absent), rounds interleaved so both see the same machine; the first model is
the baseline of the printed ratios. A script, not a test.

    .venv/bin/python tests/benchmarks/bench_infer.py MODEL.onnx [MODEL.onnx ...] [--batch 8] [--rounds 30]

``--default-int8-kernels`` also runs each model without the app's ``session.x64quantprecision`` (the
exact int8 kernels on AVX2 CPUs without VNNI; ``core.model.runtime.session_options``): what that costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.machine import effective_cores  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "fracatlas" / "images"


def batch_of(n: int, size: int) -> tuple[np.ndarray, str]:
    files = sorted(SHARED.rglob("*.jpg"))[:n] if SHARED.is_dir() else []
    if len(files) < n:
        rng = np.random.default_rng(0)
        return rng.random((n, 1, size, size), dtype=np.float32), "random images (no shared data)"
    from core.imaging.preprocess import prepare

    out = [prepare(f.read_bytes(), size, name=f.name)[0][None] for f in files]
    return np.stack(out).astype(np.float32) / 255.0, f"{n} FracAtlas developer images"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--default-int8-kernels", action="store_true",
                    help="also run each model with onnxruntime's default int8 kernels (saturating on AVX2 without VNNI)")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    from core.model.runtime import int8_instructions, session_options

    print(f"{os.cpu_count()} CPU cores ({int8_instructions() or 'int8 instructions unknown'}); effective cores "
          f"now {effective_cores():.2f}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    sessions = []
    for path in args.models:
        s = ort.InferenceSession(str(path), session_options(args.threads), providers=["CPUExecutionProvider"])
        sessions.append((path.name, s, s.get_inputs()[0].shape[-1], path.stat().st_size / 1e6))
        if args.default_int8_kernels:
            s = ort.InferenceSession(str(path), session_options(args.threads, exact_int8=False),
                                     providers=["CPUExecutionProvider"])
            sessions.append((f"{path.name} (default int8)", s, s.get_inputs()[0].shape[-1], path.stat().st_size / 1e6))
    batches = {}  # each model gets the same images at its own input size
    for _name, _s, size, _mb in sessions:
        if int(size) not in batches:
            batches[int(size)] = batch_of(args.batch, int(size))
    what = next(iter(batches.values()))[1]
    print(f"batch {args.batch} of {what} (at {' / '.join(f'{n} px' for n in batches)}), {args.threads} threads, "
          f"{args.rounds} interleaved rounds")
    times: dict[str, list[float]] = {name: [] for name, *_ in sessions}
    for _ in range(3):
        for _name, s, size, _mb in sessions:
            s.run(None, {"image": batches[int(size)][0]})
    for _ in range(args.rounds):
        for name, s, size, _mb in sessions:
            x = batches[int(size)][0]
            t0 = time.perf_counter()
            s.run(None, {"image": x})
            times[name].append(1000 * (time.perf_counter() - t0) / args.batch)
    base = statistics.median(times[sessions[0][0]])
    for name, _s, _size, mb in sessions:
        med = statistics.median(times[name])
        print(f"  {name:32s} {mb:5.1f} MB  median {med:6.2f} ms/image  best {min(times[name]):6.2f}  "
              f"x{med / base:.2f} of {sessions[0][0]}")
    print(f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
