"""Smoke test of the built Linux bundle against the source install (run by ``packaging/smoke_test.sh``).

Steps, each reported PASS, FAIL or SKIP (with the reason: a tool or the data is missing here); any
FAIL makes the exit status 1, and the final line counts the skipped steps:
  1. ``--version`` says the package's version; ``info`` runs.
  2. ``scan`` over a folder of JPEG, PNG and compressed DICOM files (JPEG 2000, JPEG-LS, JPEG lossless,
     JPEG extended, RLE, deflate, an extensionless DICOM): every file is scored by the bundle — a file
     the bundle reports as an error is a missing decoder plugin and fails loudly — and each probability
     equals the source install's (``.venv/bin/fracture-triage scan --csv``) within 1e-5.
  3. The GUI starts offscreen on the folder with ``--quit-after-scan`` and exits cleanly (status 0, no
     traceback); the time to a visible window is measured (the app's ``FRACTURE_TRIAGE_STARTUP_TIMING``
     line when it prints one, otherwise start-to-exit on an empty folder, an upper bound).
  4. The same on an X11 display (``xvfb-run``, when installed): the bundled xcb plugin and libraries work.
  5. Network rule: under ``strace``, a scan with SQLite opens no socket at all and the GUI no Internet
     socket (local Unix sockets of the desktop, X11 or D-Bus, are fine); a scan with a PostgreSQL server
     (a private one on 127.0.0.1, when the server binaries are installed) connects to exactly that
     host and port and nowhere else.
  6. With ``--bench N``: a scan of N FracAtlas images by both, best of three each, and the ratio.

Data: ``../shared/data`` when present (FracAtlas JPEGs, the real CR/DX DICOMs), else generated images;
pydicom's own test files (installed with pydicom) always. The model: ``--model``, else the bundle's own
model (the source run is given the same file), else a generated test model (``tests/model_factory``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
TIMING_ENV = "FRACTURE_TRIAGE_STARTUP_TIMING"
TIMING_LINE = re.compile(r"window shown.*?([0-9.]+)\s*s", re.I)

# pydicom test files: (file, what it exercises)
PYDICOM_FILES = [
    ("MR_small_RLE.dcm", "RLE lossless"),
    ("MR_small_jp2klossless.dcm", "JPEG 2000 lossless"),
    ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS lossless"),
    ("JPGExtended.dcm", "JPEG extended 12-bit"),
    ("image_dfl.dcm", "deflated explicit VR"),
    ("JPEG2000.dcm", "JPEG 2000"),
]
SHARED_DICOM = [
    ("966_fixed.dcm", "JPEG 2000 lossless, MONOCHROME1 DX"),
    ("RG2_JLSL.dcm", "JPEG-LS lossless CR"),
    ("RG2_JPLL.dcm", "JPEG lossless SV1 CR"),
    ("RG2_JPLY_fixed.dcm", "JPEG extended CR"),
]


def _where(lines: list[str], first_bad: str) -> str:
    """What a network-rule failure needs to be traced back: the programs started (``execve``) and the
    stack strace recorded under the first bad call (when it could: ``-k``)."""
    progs = [ln for ln in lines if " execve(" in ln and not ln.startswith(" ")]
    i = lines.index(first_bad)
    stack = []
    for ln in lines[i + 1:i + 41]:
        if not ln.startswith(" "):
            break
        stack.append(ln.strip())
    out = "\n  programs started:\n    " + "\n    ".join(p[:200] for p in progs[:8]) if progs else ""
    return out + ("\n  stack of the first:\n    " + "\n    ".join(stack) if stack else "")


class SmokeFailure(Exception):
    pass


class Skipped(Exception):
    """The step cannot run on this machine (a tool or the data is missing); ``str()`` says why."""


class Smoke:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.bundle = Path(args.bundle).resolve()
        self.exe = self.bundle / "fracture-triage"
        self.source = Path(args.source).resolve()
        self.work = Path(tempfile.mkdtemp(prefix="ft-smoke-"))
        self.results: dict[str, object] = {}
        self.failures: list[str] = []
        self.skipped: list[str] = []
        # FRACTURE_TRIAGE_DEBUG_ERRORS: the GUI exits non-zero when its error reporter caught anything.
        self.env = dict(os.environ, FRACTURE_TRIAGE_HOME=str(self.work / "home"), QT_QPA_PLATFORM="offscreen",
                        FRACTURE_TRIAGE_DEBUG_ERRORS="1")
        self.env.pop("PYTHONPATH", None)
        self.env.pop(TIMING_ENV, None)

    # --- helpers ---------------------------------------------------------------------------------
    def run(self, cmd: list, *, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                              env=env or self.env, cwd=self.work)
        proc.elapsed = time.monotonic() - t0  # type: ignore[attr-defined]
        return proc

    def step(self, name: str, fn) -> None:
        try:
            detail = fn()
            print(f"PASS  {name}" + (f": {detail}" if detail else ""), flush=True)
        except Skipped as exc:
            self.skipped.append(f"{name}: {exc}")
            print(f"SKIP  {name}: {exc}", flush=True)
        except SmokeFailure as exc:
            self.failures.append(f"{name}: {exc}")
            print(f"FAIL  {name}: {exc}", flush=True)
        except subprocess.TimeoutExpired as exc:
            self.failures.append(f"{name}: timed out after {exc.timeout:.0f} s")
            print(f"FAIL  {name}: timed out after {exc.timeout:.0f} s", flush=True)

    @staticmethod
    def check(proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            raise SmokeFailure(f"{what} exited with status {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
        if "Traceback (most recent call last)" in proc.stderr:
            raise SmokeFailure(f"{what} printed a traceback\n{proc.stderr[-3000:]}")

    # --- preparation ------------------------------------------------------------------------------
    def prepare_model(self) -> tuple[list[str], list[str]]:
        """Arguments selecting the model for the bundle run and the source run."""
        if self.args.model:
            m = str(Path(self.args.model).resolve())
            return ["--model", m], ["--model", m]
        bundled = sorted((self.bundle / "_internal" / "resources" / "models").glob("*.onnx"))
        if len(bundled) == 1:
            self.results["model"] = bundled[0].name
            return [], ["--model", str(bundled[0])]  # the bundle finds its own; the source gets the same file
        if bundled:
            self.results["model"] = "bundle default"
            return [], []
        sys.path.insert(0, str(ROOT))
        from tests.model_factory import write_model

        m = str(write_model(self.work / "model"))
        self.results["model"] = "generated test model"
        return ["--model", m], ["--model", m]

    def prepare_images(self) -> list[tuple[str, str]]:
        """The scan folder; returns (file name, what it exercises)."""
        import numpy as np
        from PIL import Image
        from pydicom.data import get_testdata_file

        folder = self.work / "images"
        folder.mkdir()
        made: list[tuple[str, str]] = []
        jpegs = sorted((SHARED / "fracatlas" / "images").glob("*.jpg"))[:4] if SHARED.is_dir() else []
        for j in jpegs:
            shutil.copy2(j, folder / j.name)
            made.append((j.name, "FracAtlas JPEG"))
        full = sorted((SHARED / "fracatlas" / "fullres").glob("*.jpg"))[:1] if SHARED.is_dir() else []
        for j in full:
            shutil.copy2(j, folder / ("fullres_" + j.name))
            made.append(("fullres_" + j.name, "full-size JPEG (reduced decode)"))
        rng = np.random.default_rng(7)
        if not jpegs:
            for i in range(3):
                arr = (rng.random((480, 380)) * 255).astype("uint8")
                Image.fromarray(arr).save(folder / f"synthetic_{i}.jpg", quality=90)
                made.append((f"synthetic_{i}.jpg", "generated JPEG"))
        src = Image.open(folder / made[0][0]).convert("L")
        src.save(folder / "grey8.png")
        made.append(("grey8.png", "8-bit PNG"))
        Image.fromarray((np.asarray(src, dtype=np.uint16) * 257)).save(folder / "grey16.png")
        made.append(("grey16.png", "16-bit PNG"))
        for name, what in SHARED_DICOM:
            p = SHARED / "dicom" / name
            if p.is_file():
                shutil.copy2(p, folder / name)
                made.append((name, what))
        for name, what in PYDICOM_FILES:
            p = get_testdata_file(name, download=False)
            if p:
                shutil.copy2(p, folder / name)
                made.append((name, what))
        ct = get_testdata_file("CT_small.dcm", download=False)
        if ct:  # a file of its own (a copy of another one would be a duplicate, never decoded)
            shutil.copy2(ct, folder / "no_extension_dicom")
            made.append(("no_extension_dicom", "DICOM recognised by content"))
        (self.work / "empty").mkdir()
        return made

    # --- steps ------------------------------------------------------------------------------------
    def version_and_info(self) -> str:
        if not self.exe.is_file():
            raise SmokeFailure(f"no bundle at {self.exe} (run python packaging/build.py)")
        want = metadata.version("fracture-triage")
        proc = self.run([self.exe, "--version"], timeout=60)
        self.check(proc, "--version")
        if want not in proc.stdout:
            raise SmokeFailure(f"--version printed {proc.stdout.strip()!r}, package version is {want}")
        self.results["version_s"] = round(proc.elapsed, 3)
        info = self.run([self.exe, "info"] + self.bundle_model, timeout=60)
        self.check(info, "info")
        if not info.stdout.strip():
            raise SmokeFailure("info printed nothing")
        unknown = [n for n in ("onnxruntime", "pydicom", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pillow")
                   if re.search(rf"^\s*{re.escape(n)} not installed", info.stdout, re.M | re.I)]
        if unknown:
            raise SmokeFailure(f"info reports {', '.join(unknown)} as not installed (metadata not bundled)")
        return f"{proc.stdout.strip()} ({proc.elapsed:.2f} s); info ok"

    def scan_and_compare(self) -> str:
        folder = self.work / "images"
        b = self.run([self.exe, "scan", folder, "--csv", self.work / "bundle.csv",
                      "--db", f"sqlite:///{self.work / 'bundle.sqlite3'}"] + self.bundle_model)
        self.check(b, "bundle scan")
        s = self.run([self.source, "scan", folder, "--csv", self.work / "source.csv",
                      "--db", f"sqlite:///{self.work / 'source.sqlite3'}"] + self.source_model)
        self.check(s, "source scan")
        rows_b = self._read_csv(self.work / "bundle.csv")
        rows_s = self._read_csv(self.work / "source.csv")
        what = dict(self.images)
        problems = []
        for name, row in sorted(rows_b.items()):
            if row["status"] == "error":
                hint = " <- MISSING DECODER PLUGIN in the bundle?" if rows_s.get(name, {}).get("status") != "error" else ""
                problems.append(f"bundle could not read {name} ({what.get(name, '?')}): {row['error']}{hint}")
        for name, row in sorted(rows_s.items()):
            if row["status"] == "error":
                problems.append(f"source install could not read {name} ({what.get(name, '?')}): {row['error']}")
        if set(rows_b) != set(rows_s):
            problems.append(f"different files: bundle-only {sorted(set(rows_b) - set(rows_s))}, "
                            f"source-only {sorted(set(rows_s) - set(rows_b))}")
        missing = sorted(set(what) - set(rows_b))
        if missing:
            problems.append(f"files not in the bundle's CSV: {missing}")
        worst = 0.0
        for name in sorted(set(rows_b) & set(rows_s)):
            pb, ps = rows_b[name]["probability"], rows_s[name]["probability"]
            if rows_b[name]["status"] != rows_s[name]["status"]:
                problems.append(f"{name}: status {rows_b[name]['status']} (bundle) vs {rows_s[name]['status']} (source)")
            elif pb and ps:
                d = abs(float(pb) - float(ps))
                worst = max(worst, d)
                if d > self.args.tolerance:
                    problems.append(f"{name}: probability {pb} (bundle) vs {ps} (source), |diff| {d:.2e}")
        scored = sum(1 for r in rows_b.values() if r["status"] == "scored")
        if problems:
            raise SmokeFailure("\n    " + "\n    ".join(problems))
        self.results.update(files=len(rows_b), scored=scored, max_abs_diff=worst)
        return f"{len(rows_b)} files, {scored} scored, max |p_bundle - p_source| = {worst:.1e}"

    @staticmethod
    def _read_csv(path: Path) -> dict[str, dict[str, str]]:
        with open(path, newline="", encoding="utf-8") as fh:
            return {Path(r["path"]).name: r for r in csv.DictReader(fh)}

    def gui(self) -> str:
        folder = self.work / "images"
        cmd = [self.exe, folder, "--quit-after-scan", "--reviewer", "smoke",
               "--db", f"sqlite:///{self.work / 'gui.sqlite3'}"] + self.bundle_model
        proc = self.run(cmd, timeout=180, env=dict(self.env, **{TIMING_ENV: "1"}))
        self.check(proc, "GUI --quit-after-scan")
        shown = self._startup_seconds(cmd, folder)
        return f"clean exit in {proc.elapsed:.2f} s; " + shown

    def _startup_seconds(self, cmd: list, folder: Path) -> str:
        """Time to a visible window: the app's timing line if it prints one (first run = coldest), and
        start-to-exit with --quit-after-scan on an empty folder as an upper bound."""
        times, marks = [], []
        empty = [c if c != folder else self.work / "empty" for c in cmd]
        cold = self.args.drop_caches and self._drop_caches()
        self.results["first_start_cold"] = bool(cold)
        for i in range(3):
            env = dict(self.env, **{TIMING_ENV: "1"})
            env["FRACTURE_TRIAGE_HOME"] = str(self.work / f"home-start{i}")
            proc = self.run(empty, timeout=120, env=env)
            self.check(proc, "GUI on an empty folder")
            times.append(proc.elapsed)
            m = TIMING_LINE.search(proc.stderr + proc.stdout)
            if m:
                marks.append(float(m.group(1)))
        self.results["start_to_exit_s"] = [round(t, 2) for t in times]
        text = "start-to-exit on an empty folder " + ", ".join(f"{t:.2f}" for t in times) + " s"
        if marks:
            self.results["window_shown_s"] = marks
            text = "window shown after " + ", ".join(f"{t:.2f}" for t in marks) + " s; " + text
        text += " (first run with the page cache dropped)" if cold else ""
        target = marks[0] if marks else times[0]
        if target > self.args.start_limit:
            raise SmokeFailure(f"{text}: over the {self.args.start_limit} s limit")
        return text

    @staticmethod
    def _drop_caches() -> bool:
        """Empty the kernel's page cache (root only) so the first start reads everything from disk."""
        try:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            return True
        except OSError:
            print("      (could not drop the page cache: not root; the first start is not cold)", flush=True)
            return False

    def gui_x11(self) -> str:
        """The GUI on a real X11 display (Xvfb), through the bundled xcb platform plugin and libraries."""
        xvfb = shutil.which("xvfb-run")
        if not xvfb:
            raise Skipped("no xvfb-run; apt-get install xvfb")
        cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", self.exe, self.work / "images", "--quit-after-scan",
               "--reviewer", "smoke", "--db", f"sqlite:///{self.work / 'x11.sqlite3'}"] + self.bundle_model
        env = dict(self.env, QT_QPA_PLATFORM="xcb", **{TIMING_ENV: "1"})
        env["FRACTURE_TRIAGE_HOME"] = str(self.work / "home-x11")
        proc = self.run(cmd, timeout=180, env=env)
        self.check(proc, "GUI on X11")
        m = TIMING_LINE.search(proc.stderr + proc.stdout)
        if m:
            self.results["x11_window_shown_s"] = float(m.group(1))
        return "clean exit" + (f"; window shown after {m.group(1)} s" if m else "")

    def offline(self) -> str:
        """The network rule under strace: the bundle opens no connection except to the configured
        database server. SQLite scan: no socket() call at all. GUI: no Internet socket. PostgreSQL
        scan: every Internet connect() goes to the configured 127.0.0.1:PORT."""
        strace = shutil.which("strace")
        if not strace:
            raise Skipped("no strace on this machine")
        inet = re.compile(r"socket\(AF_INET6?\b|sa_family=AF_INET6?\b")
        runs = {
            "scan": [self.exe, "scan", self.work / "images", "--db", f"sqlite:///{self.work / 'offline.sqlite3'}"]
            + self.bundle_model,
            "GUI": [self.exe, self.work / "images", "--quit-after-scan", "--reviewer", "smoke",
                    "--db", f"sqlite:///{self.work / 'offline-gui.sqlite3'}"] + self.bundle_model,
        }
        for label, cmd in runs.items():
            lines = self._strace(strace, label, cmd)
            if lines is None:
                raise Skipped("strace cannot trace here")
            calls = [ln for ln in lines if not ln.startswith(" ")]  # -k adds indented stack lines
            bad = [ln for ln in calls if "socket(" in ln] if label == "scan" else [ln for ln in calls if inet.search(ln)]
            if bad:
                raise SmokeFailure(f"the {label} with SQLite opened sockets:\n    " + "\n    ".join(bad[:5])
                                   + _where(lines, bad[0]))
        return "SQLite scan opened no socket, GUI no Internet socket; " + self._postgres_network(strace)

    def _strace(self, strace: str, label: str, cmd: list) -> list[str] | None:
        """The traced calls (and, where strace can, each call's stack: ``-k``) of ``cmd``; programs it
        starts are traced too and their ``execve`` recorded, so a failure says who opened a socket."""
        log = self.work / f"strace-{label}.txt"
        stacks = ["-k"] if self.run([strace, "-k", "-e", "trace=none", "true"], timeout=30).returncode == 0 else []
        proc = self.run([strace, "-f", "-qq", *stacks, "-e", "trace=socket,connect,sendto,sendmsg,execve", "-o", log]
                        + cmd, timeout=300)
        if proc.returncode != 0 and not log.exists():
            return None
        self.check(proc, f"{label} under strace")
        return log.read_text(errors="replace").splitlines()

    def _postgres_network(self, strace: str) -> str:
        import socket

        sys.path.insert(0, str(ROOT))
        from tests.pgcluster import PgCluster

        cluster, why = PgCluster.find()
        if cluster is None:
            return f"PostgreSQL part skipped ({why})"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            cluster.start(tcp_port=port)
            cluster.create_database("smoke")
            lines = self._strace(strace, "scan-postgres", [self.exe, "scan", self.work / "images", "--db",
                                                           cluster.url("smoke", tcp=True)] + self.bundle_model)
        finally:
            cluster.stop()
        if lines is None:
            return "PostgreSQL part skipped (strace cannot trace here)"
        calls = [ln for ln in lines if not ln.startswith(" ")]  # -k adds indented stack lines
        connects = [ln for ln in calls if "connect(" in ln and re.search(r"sa_family=AF_INET6?\b", ln)]
        elsewhere = [ln for ln in connects if f"sin_port=htons({port})" not in ln or '127.0.0.1' not in ln]
        if not connects:
            raise SmokeFailure("the scan with PostgreSQL never connected to the server: the check itself is wrong")
        if elsewhere:
            raise SmokeFailure("the scan with PostgreSQL connected elsewhere than the configured server:\n    "
                               + "\n    ".join(elsewhere[:5]) + _where(lines, elsewhere[0]))
        return f"PostgreSQL scan connected only to 127.0.0.1:{port} ({len(connects)} connects)"

    def bench(self) -> str:
        """Scan throughput, frozen vs source: the ``[N images/s]`` the scan command reports (scan only,
        start-up excluded) and the wall time of the whole command; best of three alternating runs each."""
        n = self.args.bench
        pool = sorted((SHARED / "fracatlas" / "images").glob("*.jpg"))
        if not pool:
            raise Skipped("no ../shared/data/fracatlas")
        folder = self.work / "bench"
        folder.mkdir()
        for p in pool[:n]:
            shutil.copy2(p, folder / p.name)
        rate_re = re.compile(r"scored:\s+\d+\s+\[([0-9.]+) images/s\]")
        wall: dict[str, float] = {}
        rate: dict[str, float] = {}
        for rnd in range(3):
            for label, exe, model in (("source", self.source, self.source_model), ("bundle", self.exe, self.bundle_model)):
                db = self.work / f"bench-{label}-{rnd}.sqlite3"
                proc = self.run([exe, "scan", folder, "--db", f"sqlite:///{db}"] + model, timeout=900)
                self.check(proc, f"{label} bench scan")
                wall[label] = min(wall.get(label, 1e9), proc.elapsed)
                m = rate_re.search(proc.stdout + proc.stderr)
                if m:
                    rate[label] = max(rate.get(label, 0.0), float(m.group(1)))
        count = len(pool[:n])
        wall_ratio = wall["source"] / wall["bundle"]
        self.results.update(bench_images=count, bench_source_s=round(wall["source"], 2),
                            bench_bundle_s=round(wall["bundle"], 2), bench_wall_ratio=round(wall_ratio, 3))
        text = f"{count} images, whole command: source {wall['source']:.2f} s, bundle {wall['bundle']:.2f} s"
        ratio = wall_ratio
        if len(rate) == 2:
            ratio = rate["bundle"] / rate["source"]
            self.results.update(bench_source_rate=rate["source"], bench_bundle_rate=rate["bundle"],
                                bench_speed_ratio=round(ratio, 3))
            text += (f"; scan rate: source {rate['source']:.0f}/s, bundle {rate['bundle']:.0f}/s "
                     f"(bundle = {ratio:.2f} x source)")
        if ratio < 0.9:
            raise SmokeFailure(text + ": bundle more than 10% slower")
        return text

    def main(self) -> int:
        print(f"smoke test of {self.bundle} (work dir {self.work})", flush=True)
        if not self.source.is_file():
            print(f"FAIL  no source install at {self.source} (sh packaging/linux/setup.sh)")
            return 1
        self.bundle_model, self.source_model = self.prepare_model()
        self.images = self.prepare_images()
        print("      files: " + "; ".join(f"{n} ({w})" for n, w in self.images), flush=True)
        self.step("version and info", self.version_and_info)
        self.step("scan matches the source install", self.scan_and_compare)
        self.step("GUI offscreen, --quit-after-scan", self.gui)
        self.step("GUI on X11 (xcb, Xvfb)", self.gui_x11)
        self.step("offline", self.offline)
        if self.args.bench:
            self.step("frozen vs source scan speed", self.bench)
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(dict(self.results, failures=self.failures, skipped=self.skipped),
                                                       indent=2))
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.failures:
            print(f"SMOKE TEST FAILED ({len(self.failures)} step(s))", flush=True)
            return 1
        skipped = f" ({len(self.skipped)} step(s) skipped)" if self.skipped else ""
        print(f"SMOKE TEST PASSED{skipped}", flush=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=str(ROOT / "dist" / "fracture-triage"), help="the built folder")
    ap.add_argument("--source", default=str(ROOT / ".venv" / "bin" / "fracture-triage"),
                    help="the source install's fracture-triage")
    ap.add_argument("--model", help="ONNX model (card beside it) for both runs")
    ap.add_argument("--bench", type=int, default=0, metavar="N", help="also compare scan speed on N FracAtlas images")
    ap.add_argument("--tolerance", type=float, default=1e-5, help="max |probability difference| (default 1e-5)")
    ap.add_argument("--start-limit", type=float, default=10.0, metavar="S",
                    help="fail when the first start takes longer (default 10 s; the target is 3 s)")
    ap.add_argument("--drop-caches", action="store_true",
                    help="root only: drop the page cache before the first start, for a cold-start figure")
    ap.add_argument("--json", help="write the measured figures here")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    return Smoke(ap.parse_args(argv)).main()


if __name__ == "__main__":
    sys.exit(main())
