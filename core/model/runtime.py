"""Running the fracture model on the CPU with onnxruntime: finding the installed model, loading and
verifying it against its card, the CPU thread budget, and batched prediction.

The onnxruntime session is created lazily (first ``predict`` or ``ensure_session``), with thread counts
set on purpose: ``intra_op_num_threads`` = the cores the scan pipeline leaves for inference (see
``thread_plan``), one inter-op thread, sequential execution, and no spin-waiting (spinning threads
would steal the CPU from the decoders running beside inference).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.model.card import ModelCard, ModelError, load_verified_card

log = logging.getLogger(__name__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def cpu_count() -> int:
    """CPU cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# Python's GIL: a thread that wants it waits until the holder is asked to let go, after the switch
# interval (5 ms by default). A thread that gives it up often — SQLite gives it up for every row it
# steps through, onnxruntime and Pillow for each call, the GUI thread after every call from Qt into
# Python (each data() of a table repaint, each slot) — can wait that long each time while another
# thread runs Python: thousands of small waits in a re-scan or a repaint. 1 ms keeps them small.
GIL_SWITCH_INTERVAL_S = 0.001
INT8_EXACT_ON_AVX2 = ("session.x64quantprecision", "1")  # see session_options


def int8_instructions(cpuinfo: Optional[str] = None) -> str:
    """What this x86 CPU offers int8 inference, from /proc/cpuinfo (Linux; ``cpuinfo``: its text, for
    tests): "VNNI" (int8 dot products: the int8 graph is fast and exact), "AVX2 without VNNI" (exact
    only through the slower kernel ``session_options`` asks for), or "" where it cannot be told."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                cpuinfo = fh.read(200_000)
        except OSError:
            return ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            break
    if flags & {"avx512_vnni", "avx_vnni", "avx_vnni_int8"}:
        return "VNNI"
    return "AVX2 without VNNI" if "avx2" in flags else ""


def short_gil_switch() -> None:
    """Set the process's GIL switch interval to ``GIL_SWITCH_INTERVAL_S`` (never longer than it was):
    the app's task runner and the ``scan`` command call it before starting their threads."""
    import sys

    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))


@dataclass(frozen=True)
class ThreadPlan:
    decode_workers: int  # threads reading + decoding files
    inference_threads: int  # onnxruntime intra-op threads


def thread_plan(cores: Optional[int] = None) -> ThreadPlan:
    """How the scan splits the CPU between decoding and inference.

    Decoding (Pillow/pydicom, GIL released) and inference (onnxruntime) run at the same time; each side
    gets every core and the OS shares them out, because neither side alone keeps all cores busy all the
    time (decode threads wait on I/O and the GIL, inference pauses between batches). With spin-waiting
    off, an idle onnxruntime thread costs nothing. Measured on the 2-core development machine with
    ``tests/benchmarks/bench_scan.py --sweep`` (README, "Scanning a folder without the GUI"): on
    full-size JPEGs one decode thread per core doubles throughput (54 → 96–102 images/s) and a third
    adds nothing; two inference threads matter where inference is the bottleneck (small JPEGs).
    """
    n = cores or cpu_count()
    return ThreadPlan(decode_workers=n, inference_threads=n)


@dataclass
class Prediction:
    probabilities: np.ndarray  # float32 (N,)
    cams: Optional[np.ndarray] = None  # float32 (N, h, w) class-activation maps in model-input space
    embeddings: Optional[np.ndarray] = None  # float32 (N, D) pooled features (models with an 'embedding' output)


class Model:
    """A verified model and its (lazily created) onnxruntime session. ``predict`` is thread-safe."""

    def __init__(self, path: Path, card: ModelCard, *, threads: Optional[int] = None) -> None:
        self.path = Path(path)
        self.card = card
        self._threads = threads
        self._session = None
        self._lock = threading.Lock()
        self._input_name = card.input_name
        self._prob_name = "probability"
        self._cam_name: Optional[str] = None
        self._embedding_name: Optional[str] = None

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def input_size(self) -> int:
        return self.card.input_size

    @property
    def threads(self) -> int:
        """The intra-op thread count the session uses (or will use)."""
        return self._threads or thread_plan().inference_threads

    @property
    def session_created(self) -> bool:
        return self._session is not None

    def set_threads(self, threads: int) -> None:
        """Change the intra-op thread count; only possible before the session exists."""
        if self._session is not None and threads != self.threads:
            raise ModelError("the model's session already exists; thread count can no longer change")
        self._threads = max(1, int(threads))

    def ensure_session(self):
        """Create the onnxruntime session now and check its inputs/outputs against the card."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._create_session()
        return self._session

    def _create_session(self):
        import onnxruntime as ort  # heavy: only when a model actually runs

        def open_with(exact: bool):
            opts = session_options(self.threads, exact_int8=exact)
            return ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])

        try:
            try:
                sess = open_with(True)
            except Exception as exact_exc:
                # an int8 graph made before core.training.quantize gave each use of a weight its own copy
                # cannot be opened with the exact kernels (onnxruntime converts the shared weight twice):
                # it still runs with the default ones, which may rank a little differently on AVX2 CPUs
                sess = open_with(False)
                log.warning("model %s: the exact int8 kernels cannot be used (%s); using onnxruntime's default "
                            "kernels", self.path.name, _first_line(exact_exc))
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise ModelError(f"cannot load ONNX model {self.path}: {_first_line(exc)}") from None
        self._check_io(sess)
        return sess

    def _check_io(self, sess) -> None:
        inputs = sess.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"model {self.path} has {len(inputs)} inputs; expected one image input")
        inp = inputs[0]
        if inp.name != self.card.input_name:
            raise ModelError(f"model {self.path}: input is named '{inp.name}', its card says '{self.card.input_name}'")
        if inp.type != "tensor(float)":
            raise ModelError(f"model {self.path}: input type {inp.type}, expected float32")
        shape = list(inp.shape)
        want = [None, 1, self.input_size, self.input_size]
        ok = len(shape) == 4 and all(
            w is None or not isinstance(s, int) or s == w for s, w in zip(shape, want)
        )
        if not ok:
            raise ModelError(
                f"model {self.path}: input shape {shape} does not fit its card's "
                f"(N, 1, {self.input_size}, {self.input_size})"
            )
        names = [o.name for o in sess.get_outputs()]
        if "probability" in names:
            self._prob_name = "probability"
        elif names:
            self._prob_name = names[0]
        else:
            raise ModelError(f"model {self.path} has no outputs")
        self._cam_name = "cam" if "cam" in names else None
        self._embedding_name = "embedding" if "embedding" in names else None
        if self.card.scope_content is not None:
            emb = next(o for o in sess.get_outputs() if o.name == "embedding") if self._embedding_name else None
            dim = self.card.scope_content.get("dim")
            if emb is None:
                raise ModelError(f"model {self.path}: its card has scope statistics but the model has no "
                                 "'embedding' output")
            if isinstance(emb.shape[-1], int) and isinstance(dim, int) and emb.shape[-1] != dim:
                raise ModelError(f"model {self.path}: 'embedding' has {emb.shape[-1]} features, its card's "
                                 f"scope statistics {dim}")

    @property
    def has_cam(self) -> bool:
        self.ensure_session()
        return self._cam_name is not None

    @property
    def has_embedding(self) -> bool:
        self.ensure_session()
        return self._embedding_name is not None

    def predict(self, batch: np.ndarray, *, with_cam: bool = True, with_embedding: bool = False) -> Prediction:
        """Score a float32 batch (N, 1, S, S) in [0, 1] (``core.imaging.preprocess.to_tensor``);
        ``with_embedding`` also returns the model's ``embedding`` output when it has one."""
        sess = self.ensure_session()
        x = np.ascontiguousarray(batch, dtype=np.float32)
        s = self.input_size
        if x.ndim != 4 or x.shape[1:] != (1, s, s):
            raise ModelError(f"batch shape {x.shape} does not fit the model input (N, 1, {s}, {s})")
        n = x.shape[0]
        if n == 0:
            return Prediction(np.zeros((0,), np.float32), None)
        names = [self._prob_name]
        if with_cam and self._cam_name:
            names.append(self._cam_name)
        want_emb = bool(with_embedding and self._embedding_name)
        if want_emb:
            names.append(self._embedding_name)
        try:
            out = sess.run(names, {self._input_name: x})
        except Exception as exc:
            raise ModelError(f"model {self.path} failed on a batch of {n}: {str(exc).strip()[:300]}") from None
        probs = np.asarray(out[0], dtype=np.float32).reshape(-1)
        if probs.shape[0] != n:
            raise ModelError(f"model {self.path} returned {probs.shape[0]} probabilities for {n} images")
        cams = None
        if with_cam and self._cam_name:
            cams = np.asarray(out[1], dtype=np.float32)
            if cams.ndim == 4 and cams.shape[1] == 1:
                cams = cams[:, 0]
            if cams.ndim != 3 or cams.shape[0] != n:
                cams = None  # not a per-image map: never hand a misaligned heatmap to the viewer
        embeddings = None
        if want_emb:
            embeddings = np.asarray(out[-1], dtype=np.float32)
            if embeddings.ndim > 2 and embeddings.shape[0] == n:
                embeddings = embeddings.reshape(n, -1)
            if embeddings.ndim != 2 or embeddings.shape[0] != n:
                raise ModelError(f"model {self.path} returned embeddings of shape {embeddings.shape} for {n} images")
        return Prediction(probs, cams, embeddings)


def find_default_model(directory: Optional[Path] = None) -> Path:
    """The ``.onnx`` installed in ``resources/models`` (the one with the newest card version if several)."""
    from core.resources import models_dir

    directory = Path(directory) if directory is not None else models_dir()
    try:
        candidates = sorted(p for p in directory.glob("*.onnx") if p.is_file())
    except OSError:
        candidates = []
    if not candidates:
        raise ModelError(f"no model installed in {directory} (expected <name>.onnx with its <name>.json card)")
    if len(candidates) == 1:
        return candidates[0]

    def key(p: Path):
        import json

        try:
            version = str(json.loads(p.with_suffix(".json").read_text(encoding="utf-8")).get("version", ""))
        except (OSError, ValueError, AttributeError):
            version = ""
        parts = tuple(int(t) if t.isdigit() else -1 for t in version.replace("-", ".").split("."))
        return (parts, p.name)

    return max(candidates, key=key)


def load_model(path: Optional[Path] = None, *, threads: Optional[int] = None) -> Model:
    """Verify ``path`` (default: the installed model) against its card; the session comes later."""
    path = Path(path) if path is not None else find_default_model()
    card = load_verified_card(path)
    return Model(path, card, threads=threads)


def session_options(threads: int, *, exact_int8: bool = True):
    """The onnxruntime session options of every model the app runs: ``threads`` intra-op threads, one
    inter-op thread, every graph optimisation, no spin-waiting, exact int8 kernels, quiet logging, no
    telemetry. ``exact_int8=False`` only for the inference benchmark's comparison."""
    import onnxruntime as ort  # heavy: only when a model actually runs

    if hasattr(ort, "disable_telemetry_events"):  # no telemetry from a medical app (off on Linux builds anyway)
        ort.disable_telemetry_events()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # int8 graphs: on x86 CPUs with AVX2 but without VNNI, onnxruntime's default uint8 x int8 kernels
    # add pairs of products in 16 bits, which saturate; this asks for its exact kernel there (no effect
    # elsewhere). Without it triagenet 3.2.0 ranked 256 FracAtlas images with a rank correlation of
    # 0.952 against its own float graph on such a CPU, with it 0.993 (README, "The model").
    if exact_int8:
        opts.add_session_config_entry(*INT8_EXACT_ON_AVX2)
    opts.log_severity_level = 3
    return opts
