"""Scan throughput benchmark (a script, not a test: pytest does not collect it, its name is not test_*.py).

In one run, on the same files, prints images/s for:
  * naive     – sequential loop: read, FULL decode (no reduced JPEG decoding), letterbox, batch-1 inference;
  * decode    – read + SHA-256 + ``prepare`` alone, on the scan's decode threads (the whole machine);
  * inference – ``Model.predict`` alone on already-prepared inputs, in the scan's batches;
  * scan      – ``core.scan.scan`` end to end (discovery, hashing, decoding, inference, results);
and the ratios scan/naive and scan/limit, limit = 1/(1/decode + 1/inference) (the CPU shared perfectly).
Each set is measured in ``--rounds`` interleaved rounds and the best of each figure is shown (on a
shared machine other jobs come and go; the effective core count is printed first).

Sets: ``fullres`` (the 48 full-size FracAtlas JPEGs + distinct crops/flips/re-encodings to reach
``--fullres`` files), ``small`` (FracAtlas ~373x454 JPEGs), ``dicom-16bit`` (uncompressed 16-bit CR/DX,
re-saved from the shared DICOMs and pydicom-data's RG3_UNCR), ``dicom-j2k`` (JPEG 2000, 966_fixed.dcm
with distinct UIDs). Model: the installed one (resources/models) if any, else a generated conv net
(see ``bench_model``). ``--sweep`` also times the scan with other decode-worker / inference-thread splits.

    .venv/bin/python tests/benchmarks/bench_scan.py [--sweep] [--sets fullres,small,dicom-16bit,dicom-j2k]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.discovery import discover, read_found  # noqa: E402
from core.imaging.preprocess import letterbox, prepare, to_tensor  # noqa: E402
from core.imaging.reader import read_image  # noqa: E402
from core.model import ModelError, find_default_model, load_model, thread_plan  # noqa: E402
from core.scan import scan  # noqa: E402
from tests.benchmarks.machine import effective_cores  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


# ----------------------------------------------------------------------------------------- model
def bench_model(directory: Path, size: int = 256) -> tuple[Path, str]:
    """A stand-in of realistic cost: 4 strided 3x3 conv layers (1→16→32→64→128) + 1x1 CAM head +
    global average pool + sigmoid, at size×size, ~0.46 GFLOP per image; outputs probability and cam."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tests.model_factory import make_card

    rng = np.random.default_rng(0)
    layers = [(1, 16, 2), (16, 32, 1), (32, 64, 2), (64, 128, 2)]
    nodes, inits, x, s, flops = [], [], "image", size, 0
    for i, (ci, co, st) in enumerate(layers):
        w = (rng.standard_normal((co, ci, 3, 3)) * np.sqrt(2 / (ci * 9))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(co, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                   strides=[st, st]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x, s = f"r{i}", s // st
        flops += 2 * 9 * ci * co * s * s
    wc = (rng.standard_normal((1, layers[-1][1], 1, 1)) * 0.05).astype(np.float32)
    inits += [numpy_helper.from_array(wc, "wc"), numpy_helper.from_array(np.zeros(1, np.float32), "bc"),
              helper.make_tensor("ax1", TensorProto.INT64, [1], [1])]
    nodes += [helper.make_node("Conv", [x, "wc", "bc"], ["camlogit"]),
              helper.make_node("ReduceMean", ["camlogit"], ["logit"], axes=[1, 2, 3], keepdims=0),
              helper.make_node("Sigmoid", ["logit"], ["probability"]),
              helper.make_node("Squeeze", ["camlogit", "ax1"], ["cam"])]
    graph = helper.make_graph(
        nodes, "benchnet", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, size, size])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N"]),
         helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["N", s, s])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    card = make_card(data, name="benchnet", version="bench", size=size)
    import json

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "benchnet-bench.onnx").write_bytes(data)
    (directory / "benchnet-bench.json").write_text(json.dumps(card), encoding="utf-8")
    return directory / "benchnet-bench.onnx", f"generated conv net, {size}x{size}, {flops / 1e9:.2f} GFLOP/image"


# ------------------------------------------------------------------------------------------ data
def make_fullres(dest: Path, total: int) -> None:
    from PIL import Image, ImageOps

    dest.mkdir(parents=True)
    originals = sorted((SHARED / "fracatlas" / "fullres").glob("*.jpg"))
    for p in originals:
        shutil.copy(p, dest / p.name)
    rng = np.random.default_rng(1)
    for i in range(max(0, total - len(originals))):
        src = originals[i % len(originals)]
        im = Image.open(src)
        progressive = bool(im.info.get("progressive"))
        im = im.convert("L")
        w, h = im.size
        f = rng.uniform(0.88, 0.99)
        cw, ch = int(w * f), int(h * f)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = im.crop((x0, y0, x0 + cw, y0 + ch))
        if i % 2:
            im = ImageOps.mirror(im)
        im.save(dest / f"var{i:04d}-{src.stem}.jpg", "JPEG", quality=int(rng.integers(85, 96)), progressive=progressive)


def make_small(dest: Path, n: int) -> None:
    dest.mkdir(parents=True)
    for p in sorted((SHARED / "fracatlas" / "images").glob("*.jpg"))[:n]:
        shutil.copy(p, dest / p.name)


def _sources_16bit() -> list:
    import pydicom
    from pydicom.data import get_testdata_file

    sources = []
    for name in ("RG2_JPLL.dcm", "RG1_JLSN.dcm", "966_fixed.dcm"):
        p = SHARED / "dicom" / name
        if p.exists():
            sources.append(pydicom.dcmread(p))
    try:
        sources.append(pydicom.dcmread(get_testdata_file("RG3_UNCR.dcm")))
    except Exception:  # noqa: BLE001 - pydicom-data not installed: the shared files suffice
        pass
    return sources


def make_dicom16(dest: Path, n: int) -> None:
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    dest.mkdir(parents=True)
    sources = _sources_16bit()
    arrays = [ds.pixel_array.astype(np.uint16) for ds in sources]
    for i in range(n):
        ds, arr = sources[i % len(sources)], arrays[i % len(sources)].copy()
        arr[0, : i + 1] ^= 1  # distinct bytes (and so a distinct image identity) per copy
        ds = ds.copy()
        ds.PixelData = arr.tobytes()
        ds.BitsAllocated = 16
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds["PixelData"].VR = "OW"
        ds.save_as(dest / f"u{i:03d}.dcm", enforce_file_format=True)


def make_j2k(dest: Path, n: int) -> None:
    import pydicom
    from pydicom.uid import generate_uid

    dest.mkdir(parents=True)
    ds = pydicom.dcmread(SHARED / "dicom" / "966_fixed.dcm")
    for i in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(dest / f"j{i:03d}.dcm", enforce_file_format=True)


# ---------------------------------------------------------------------------------- measurements
def files_of(root: Path) -> list[Path]:
    return [f.path for f in discover(root)]


def decode_one(path: Path, size: int):
    data = read_found(path)
    hashlib.sha256(data).hexdigest()
    return prepare(data, size, name=path.name)[0]


def measure_decode(paths: list[Path], size: int, workers: int) -> tuple[float, list[np.ndarray]]:
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        canvases = list(ex.map(lambda p: decode_one(p, size), paths))
    return len(paths) / (time.perf_counter() - t), canvases


def measure_inference(model, canvases: list[np.ndarray], batch: int) -> float:
    model.predict(to_tensor(np.stack(canvases[:batch])))  # warm
    t = time.perf_counter()
    for i in range(0, len(canvases), batch):
        model.predict(to_tensor(np.stack(canvases[i : i + batch])), with_cam=False)
    return len(canvases) / (time.perf_counter() - t)


def measure_naive(model, paths: list[Path], size: int) -> float:
    t = time.perf_counter()
    for p in paths:
        data = p.read_bytes()
        grey = read_image(data, name=p.name).grey  # full-size decode
        canvas, _ = letterbox(grey, size)
        model.predict(to_tensor(canvas), with_cam=False)
    return len(paths) / (time.perf_counter() - t)


def measure_scan(model, root: Path, n: int, workers=None, batch: int = 8) -> tuple[float, float]:
    s = scan(root, model, workers=workers, batch_size=batch)
    assert s.scored + s.duplicates == n and s.failed == 0, (s.scored, n, [(e.path.name, e.error) for e in s.errors[:3]])
    return n / s.elapsed_s, s.first_result_s or 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="ONNX model with card (default: installed, else generated)")
    ap.add_argument("--sets", default="fullres,small,dicom-16bit,dicom-j2k")
    ap.add_argument("--fullres", type=int, default=192, help="full-size JPEGs (48 originals + variants)")
    ap.add_argument("--small", type=int, default=500)
    ap.add_argument("--dicom", type=int, default=16, help="files per DICOM set (JPEG 2000: half, one round)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per set; best of each is shown")
    ap.add_argument("--sweep", action="store_true", help="also time other worker/thread splits on fullres")
    ap.add_argument("--keep", type=Path, help="build the files here and keep them (default: a temp dir)")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-", dir=args.keep)) if args.keep else Path(tempfile.mkdtemp(prefix="bench-scan-"))
    try:
        if args.model:
            model_path, model_desc = args.model, f"{args.model.name} (--model)"
        else:
            try:
                model_path = find_default_model()
                model_desc = f"installed model {model_path.name}"
            except ModelError:
                model_path, model_desc = bench_model(tmp / "model")
        plan = thread_plan()
        model = load_model(model_path)
        size = model.input_size
        makers = {"fullres": lambda d: make_fullres(d, args.fullres), "small": lambda d: make_small(d, args.small),
                  "dicom-16bit": lambda d: make_dicom16(d, args.dicom), "dicom-j2k": lambda d: make_j2k(d, max(2, args.dicom // 2))}
        sets = [s for s in args.sets.split(",") if s]
        print(f"model: {model_desc}; input {size}x{size}; model {model.name} {model.version}")
        print(f"CPU cores: {plan.decode_workers}; scan: {plan.decode_workers} decode threads, "
              f"{model.threads} onnxruntime intra-op threads, batch {args.batch}")
        load = ", ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
        print(f"effective cores available now: {effective_cores(plan.decode_workers):.2f} of "
              f"{plan.decode_workers} (load average {load})")
        t0 = time.perf_counter()
        for name in sets:
            makers[name](tmp / name)
        print(f"generated inputs in {time.perf_counter() - t0:.0f} s under {tmp}\n")
        header = f"{'set':<12}{'files':>6}{'naive':>8}{'decode':>8}{'infer':>8}{'limit':>8}{'scan':>8}" \
                 f"{'scan/naive':>11}{'scan/limit':>11}{'first(s)':>9}"
        print(header + "   (images/s)")
        for name in sets:
            root = tmp / name
            paths = files_of(root)
            for p in paths:  # page cache warm for every measurement alike
                p.read_bytes()
            best = dict(naive=0.0, decode=0.0, infer=0.0, scan=0.0)
            first = 0.0
            rounds = 1 if name == "dicom-j2k" else args.rounds
            for _ in range(rounds):  # interleaved rounds, best of each: other jobs on a shared CPU come and go
                decode, canvases = measure_decode(paths, size, plan.decode_workers)
                infer = measure_inference(model, canvases, args.batch)
                del canvases
                naive = measure_naive(model, paths, size)
                rate, first_s = measure_scan(model, root, len(paths), batch=args.batch)
                if rate > best["scan"]:
                    first = first_s
                for key, value in (("naive", naive), ("decode", decode), ("infer", infer), ("scan", rate)):
                    best[key] = max(best[key], value)
            naive, decode, infer, rate = best["naive"], best["decode"], best["infer"], best["scan"]
            limit = 1.0 / (1.0 / decode + 1.0 / infer)
            print(f"{name:<12}{len(paths):>6}{naive:>8.1f}{decode:>8.1f}{infer:>8.1f}{limit:>8.1f}{rate:>8.1f}"
                  f"{rate / naive:>10.2f}x{100 * rate / limit:>10.0f}%{first:>9.2f}", flush=True)
        if args.sweep and "fullres" in sets:
            print("\nfullres scan, other splits (decode threads / onnxruntime threads / batch):")
            n = len(files_of(tmp / "fullres"))
            for workers, threads, batch in ((1, 1, 8), (1, 2, 8), (2, 1, 8), (3, 2, 8), (2, 2, 1), (2, 2, 16)):
                m = load_model(model_path, threads=threads)
                rate, _ = measure_scan(m, tmp / "fullres", n, workers=workers, batch=batch)
                print(f"  {workers} / {threads} / {batch:<3} {rate:7.1f} images/s", flush=True)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
