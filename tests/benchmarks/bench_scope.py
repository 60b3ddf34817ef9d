"""Scope-gate evidence (a script, not a test): the share of images gated, per kind, for in-scope and
out-of-scope test sets built from what is at hand, with a given model (its card's gate).

Sets (kinds):
  * DICOM files of pydicom and pydicom-data (CT, MR, US, NM, PET, RF/XA, secondary captures, colour
    test images, CR chest films, ...) and ``../shared/data/dicom`` — out of scope except the CR hip
    (RG2_*) and CR tibia (RG3_*) films, which are in scope;
  * tag-free renderings of every one of those DICOMs as PNG and as JPEG (the display image, no header);
  * generated: colour photographs, greyscale "photographs" (smooth random scenes), text documents,
    test patterns (colour bars, grey ramps, checkerboards, zone plates);
  * FracAtlas developer radiographs (in scope), when ``../shared/data`` is there.
Prints one line per kind (files, gated, share) and the totals for in-scope and out-of-scope files,
and the most common reasons. ``--model`` picks the model (default: the installed one); a model whose
card has no ``scope.content`` (triagenet 1.0.0) is measured with tags, colour and quality only.
``--fit-dev-gate`` instead builds a development model from the given one by exposing the globally
pooled last feature map as an ``embedding`` output, fits the content gate on the FracAtlas images
(5 grouped folds by id // 10 of that ONE network's embeddings: the network saw all of them in
training, so the in-scope share is optimistic) and measures with it.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_scope.py [--model M.onnx] [--fit-dev-gate] [--fracatlas N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from core.imaging.errors import FileError  # noqa: E402
from core.imaging.preprocess import prepare, to_tensor  # noqa: E402
from core.imaging.reader import read_image  # noqa: E402
from core.scope import Gate, assess, fit_content_gate  # noqa: E402


def dicom_files() -> list[tuple[str, Path]]:
    files: list[Path] = []
    # the files on disk only (get_testdata_files would try to download pydicom's external data set)
    try:
        from pydicom.data.data_manager import DATA_ROOT

        files += sorted(Path(DATA_ROOT, "test_files").rglob("*"))
    except Exception:  # noqa: BLE001
        pass
    try:
        import data_store  # pydicom-data

        files += sorted((Path(data_store.__file__).parent / "data").glob("*"))
    except ImportError:
        pass
    if (SHARED / "dicom").is_dir():
        files += sorted((SHARED / "dicom").glob("*.dcm"))
    out = []
    seen = set()
    for f in files:
        if f.suffix.lower() not in (".dcm", "") or f.name in seen or not f.is_file():
            continue
        seen.add(f.name)
        out.append((f.name, f))
    return out


def dicom_kind(name: str, data: bytes) -> tuple[str, bool]:
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        mod = str(ds.get("Modality", "") or "?").strip() or "?"
        part = str(ds.get("BodyPartExamined", "") or "").strip()
    except Exception:  # noqa: BLE001
        mod, part = "?", ""
    in_scope = name.startswith(("RG2_", "RG3_"))
    label = {"RG1": "CR chest film", "RG2": "CR hip film", "RG3": "CR tibia film", "966": "DX chest film"}.get(
        name.split("_")[0], f"DICOM {mod}" + (f" {part}" if part else ""))
    return label, in_scope


def generated() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(7)
    out: list[tuple[str, bytes]] = []

    def enc(img: Image.Image, fmt: str) -> bytes:
        buf = io.BytesIO()
        img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return buf.getvalue()

    def smooth(h, w, scale):
        small = rng.random((max(2, h // scale), max(2, w // scale)))
        return np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC))

    for i in range(20):  # colour photographs: smooth colour fields, blobs, noise
        h, w = int(rng.integers(300, 700)), int(rng.integers(300, 900))
        rgb = np.stack([smooth(h, w, int(rng.integers(8, 60))) for _ in range(3)], -1).astype(np.float32)
        rgb = rgb * rng.uniform(0.5, 1.0, 3) + rng.normal(0, 6, rgb.shape)
        out.append(("colour photograph", enc(Image.fromarray(rgb.clip(0, 255).astype(np.uint8)), "JPEG")))
    for i in range(20):  # greyscale photographs
        h, w = int(rng.integers(300, 700)), int(rng.integers(300, 900))
        g = smooth(h, w, int(rng.integers(6, 40))).astype(np.float32) * rng.uniform(0.6, 1.0) + rng.normal(0, 5, (h, w))
        out.append(("greyscale photograph", enc(Image.fromarray(g.clip(0, 255).astype(np.uint8)), "JPEG")))
    for i in range(20):  # documents: lines of text on white
        img = Image.new("L", (850, 1100), 255)
        d = ImageDraw.Draw(img)
        for line in range(int(rng.integers(10, 40))):
            d.text((60, 60 + line * 25), "Lorem ipsum dolor sit amet " * int(rng.integers(1, 4)), fill=0)
        out.append(("document", enc(img if i % 2 else img.convert("RGB"), "PNG" if i % 2 else "JPEG")))
    for i in range(20):  # test patterns
        h, w = 480, 640
        y, x = np.mgrid[0:h, 0:w]
        k = i % 4
        if k == 0:
            bars = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0],
                             [0, 0, 255], [0, 0, 0]], np.uint8)
            img = Image.fromarray(bars[(x * 8 // w)])
        elif k == 1:
            img = Image.fromarray(((x * 255 // w) if i % 8 < 4 else (y * 255 // h)).astype(np.uint8))
        elif k == 2:
            s = int(rng.integers(8, 64))
            img = Image.fromarray((((x // s) + (y // s)) % 2 * 255).astype(np.uint8))
        else:
            r2 = (x - w / 2) ** 2 + (y - h / 2) ** 2
            img = Image.fromarray((127.5 + 127.5 * np.cos(r2 / float(rng.integers(200, 2000)))).astype(np.uint8))
        out.append(("test pattern", enc(img, "PNG")))
    return out


def build_sets(fracatlas: int):
    """[(kind, in_scope, name, bytes)]"""
    items = []
    for name, path in dicom_files():
        data = path.read_bytes()
        kind, inside = dicom_kind(name, data)
        items.append((kind, inside, name, data))
        try:
            d = read_image(data, name=name)
        except FileError:
            continue
        for fmt in ("PNG", "JPEG"):
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(d.grey)).save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
            items.append((f"{kind} → tag-free {fmt}", inside, f"{name}.{fmt.lower()}", buf.getvalue()))
    for kind, data in generated():
        items.append((kind, False, kind, data))
    imgs = sorted((SHARED / "fracatlas" / "images").glob("*.jpg")) if SHARED.is_dir() else []
    step = max(1, len(imgs) // fracatlas) if fracatlas and imgs else 0
    for p in imgs[::step][:fracatlas] if step else []:
        items.append(("FracAtlas radiograph", True, p.name, p.read_bytes()))
    return items


def dev_model(src: Path, out_dir: Path) -> Path:
    """``src`` with its last globally pooled feature map exposed as ``embedding`` (a development stand-in
    for model 2.0's embedding output), plus a copy of its card listing that output."""
    import onnx
    from onnx import helper

    m = onnx.load(str(src))
    relus = [n for n in m.graph.node if n.op_type == "Relu"]
    feat = relus[-1].output[0]
    m.graph.node.append(helper.make_node("ReduceMean", [feat], ["embedding_4d"], axes=[2, 3], keepdims=0))
    m.graph.node.append(helper.make_node("Identity", ["embedding_4d"], ["embedding"]))
    m.graph.output.append(helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, None))
    data = m.SerializeToString()
    card = json.loads(src.with_suffix(".json").read_text())
    card["outputs"] = list(card["outputs"]) + [{"name": "embedding", "shape": ["N", "D"], "meaning": "dev"}]
    card["sha256"] = hashlib.sha256(data).hexdigest()
    card["version"] = card["version"] + "-devemb"
    card.pop("scope", None)
    path = out_dir / "dev.onnx"
    path.write_bytes(data)
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


def embed(model, datas: list[bytes], batch: int = 16) -> np.ndarray:
    out = []
    for i in range(0, len(datas), batch):
        x = to_tensor(np.stack([prepare(d, model.input_size)[0] for d in datas[i:i + batch]]))
        out.append(model.predict(x, with_cam=False, with_embedding=True).embeddings)
    return np.concatenate(out)


def main() -> int:
    from core.model.runtime import find_default_model, load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--fracatlas", type=int, default=3161, help="FracAtlas images to include (spread over ids)")
    ap.add_argument("--fit-dev-gate", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()
    src = args.model or find_default_model()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scope-"))
    items = build_sets(args.fracatlas)
    model = load_model(dev_model(src, tmp) if args.fit_dev_gate else src)
    gate = Gate.for_card(model.card)
    if args.fit_dev_gate:
        fa = [(n, d) for k, _i, n, d in items if k == "FracAtlas radiograph"]
        emb = embed(model, [d for _, d in fa])
        groups = np.array([int(n[3:10]) // 10 for n, _ in fa]) % 5
        section = fit_content_gate([emb[groups != k] for k in range(5)], [emb[groups == k] for k in range(5)], emb)
        gate = Gate(section)
        print(f"dev gate fitted on {len(fa)} FracAtlas embeddings (dim {section['dim']}, {section['components']} "
              f"components): threshold {section['threshold']:.4g}, grouped-fold gated {section['oof_gated']:.1%}")
    print(f"model {model.name} {model.version}; {gate.describe()}")
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    totals = {True: [0, 0], False: [0, 0]}
    reasons: Counter = Counter()
    errors = 0
    for kind, inside, name, data in items:
        try:
            canvas, _geo, decoded = prepare(data, model.input_size, name=name)
        except FileError:
            errors += 1
            continue
        v = assess(decoded)
        if gate.has_content and not v.settled:
            x = to_tensor(canvas[None])
            d = float(gate.distances(model.predict(x, with_cam=False, with_embedding=True).embeddings)[0])
            v = gate.finish(v, d)
        g = int(v.out_of_scope)
        per_kind[(kind, inside)][0] += 1
        per_kind[(kind, inside)][1] += g
        totals[inside][0] += 1
        totals[inside][1] += g
        if g:
            reasons[(v.reason or "").split(" (")[0]] += 1
    print(f"{'kind':<58} {'scope':<6} {'files':>5} {'gated':>5} {'share':>6}")
    for (kind, inside), (n, g) in sorted(per_kind.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{kind[:58]:<58} {'in' if inside else 'out':<6} {n:5d} {g:5d} {g / n:6.1%}")
    for inside in (False, True):
        n, g = totals[inside]
        if n:
            print(f"TOTAL {'in-scope' if inside else 'out-of-scope'} files: {n}, gated {g} ({g / n:.1%})")
    print(f"unreadable files skipped: {errors}")
    print("reasons:", "; ".join(f"{r} {n}" for r, n in reasons.most_common()))
    if args.json:
        args.json.write_text(json.dumps({"per_kind": {f"{k}|{'in' if i else 'out'}": v for (k, i), v in per_kind.items()},
                                         "totals": {"in": totals[True], "out": totals[False]}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
