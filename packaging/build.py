"""Builds the installable app: runs PyInstaller on ``packaging/fracture_triage.spec``, checks the result,
and packs it.

    python packaging/build.py                 # dist/fracture-triage/ + dist/fracture-triage-<ver>-linux-x86_64.tar.gz
    python packaging/build.py --require-model # refuse to build without a model in resources/models
    python packaging/build.py --check-only    # re-run the checks and the archive on an existing build
    python packaging/build.py --installer     # Windows: also run Inno Setup (iscc) on windows/fracture-triage.iss

Checks after the build (each failure stops with a clear message): the executable and ``resources/VERSION``
are there; every bundled model's sha256 matches its card; nothing of torch, training or tests went in;
only the allowed Qt plugins; on Linux every bundled ELF file's libraries resolve (what does not resolve
must be a system library the target machine provides: see ``linux/install.sh``). Prints the size on disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import buildinfo  # noqa: E402

SPEC = HERE / "fracture_triage.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
SIZE_TARGET_MB = 210  # issue 15: <= 210 MB (du -sm) with the PostgreSQL driver

# Libraries a Linux desktop provides and the bundle deliberately does not carry (PyInstaller's own
# exclusions: libc & co., the GL stack, libxcb, libwayland-*; and syslibs.SYSTEM_PROVIDED: libdbus-1).
# Anything else unresolved is an error.
SYSTEM_LIBS = re.compile(
    r"^(ld-linux.*|libc|libm|libdl|libpthread|librt|libutil|libresolv|libanl|libnsl|libcrypt|"
    r"libE?(Open)?GLX?(ESv1_CM|ESv2)?(dispatch)?|libGLdispatch|libdrm|libxcb|libxcb-dri\d*|libX11|"
    r"libwayland-(client|cursor|egl|server)|libdbus-1)\.so(\..*)?$"
)


class BuildError(Exception):
    pass


def bundle_dir(info: buildinfo.ProjectInfo) -> Path:
    return DIST / info.dist_name


def platform_tag() -> str:
    machine = platform.machine().lower().replace("amd64", "x86_64")
    return f"{'windows' if sys.platform == 'win32' else sys.platform.rstrip('0123456789')}-{machine}"


def run_pyinstaller(nice: int) -> None:
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)]
    if nice and hasattr(os, "nice"):
        cmd = ["nice", "-n", str(nice)] + cmd
    print("+", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True)
    print(f"PyInstaller finished in {time.monotonic() - t0:.0f} s", flush=True)


def internal_dir(bundle: Path) -> Path:
    return bundle / "_internal" if (bundle / "_internal").is_dir() else bundle


def disk_usage(path: Path) -> int:
    """Bytes on disk (allocated blocks where the OS reports them, like ``du``)."""
    total = 0
    for p in path.rglob("*"):
        if p.is_symlink() or not p.is_file():
            continue
        st = p.stat()
        total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def size_report(internal: Path, top: int = 14) -> list[str]:
    """What each part of the bundle weighs (MiB on disk), biggest first: Qt libraries, onnxruntime,
    numpy's OpenBLAS, ... — so a change that adds weight shows in every build's log."""
    parts: dict[str, int] = {}
    for p in internal.iterdir():
        if p.is_symlink():
            continue
        key = p.name
        if p.is_dir() and p.name == "PySide6":
            for q in p.iterdir():
                if not q.is_symlink():
                    parts[f"PySide6/{q.name}"] = disk_usage(q) if q.is_dir() else q.stat().st_blocks * 512
            continue
        parts[key] = disk_usage(p) if p.is_dir() else getattr(p.stat(), "st_blocks", 0) * 512
    ranked = sorted(parts.items(), key=lambda kv: -kv[1])
    lines = [f"  {size / 2**20:7.1f} MiB  {name}" for name, size in ranked[:top]]
    rest = sum(size for _name, size in ranked[top:])
    lines.append(f"  {rest / 2**20:7.1f} MiB  {len(ranked) - top} other files and folders")
    return lines


def check_models(internal: Path, require: bool) -> list[str]:
    models = sorted((internal / "resources" / "models").glob("*.onnx"))
    notes = []
    for onnx in models:
        card = onnx.with_suffix(".json")
        if not card.is_file():
            raise BuildError(f"{onnx.name} has no model card {card.name} in the bundle")
        want = json.loads(card.read_text(encoding="utf-8")).get("sha256")
        got = hashlib.sha256(onnx.read_bytes()).hexdigest()
        if want != got:
            raise BuildError(f"{onnx.name}: sha256 {got} does not match its card ({want})")
        notes.append(f"model {onnx.name} ({onnx.stat().st_size / 1e6:.1f} MB, card ok)")
    if not models:
        msg = "no model in resources/models: the bundle cannot score images without --model"
        if require:
            raise BuildError(msg)
        notes.append("WARNING: " + msg)
    return notes


def check_contents(internal: Path) -> None:
    bad = []
    for rel in ("torch", "tests", "core/training", "onnx", "PySide6/Qt/qml", "PySide6/Qt/translations"):
        if (internal / rel).exists():
            bad.append(rel)
    for p in internal.rglob("*"):
        if p.is_file() and (re.match(r"(lib)?(torch|c10|Qt6?(WebEngine|Quick|Qml|3D|Pdf))", p.name)
                            or p.suffix in (".pt", ".pth", ".ckpt")):
            bad.append(str(p.relative_to(internal)))
    if bad:
        raise BuildError("unwanted files in the bundle: " + ", ".join(sorted(bad)[:20]))
    plugins = internal / "PySide6" / "Qt" / "plugins"
    if not plugins.is_dir():
        plugins = internal / "PySide6" / "plugins"
    extra = [str(p.relative_to(plugins)) for p in plugins.rglob("*") if p.is_file()
             and not buildinfo.keep_qt_file("PySide6/Qt/plugins/" + str(p.relative_to(plugins)))]
    if extra:
        raise BuildError("Qt plugins outside the allowed list: " + ", ".join(extra))
    for needed in ("platforms", "imageformats", "iconengines"):
        if not (plugins / needed).is_dir():
            raise BuildError(f"Qt plugin folder {needed}/ is missing from the bundle")


def _is_elf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"\x7fELF"


def check_linux_libraries(bundle: Path) -> list[str]:
    """``ldd`` every bundled ELF file with the bundle's own folders on the search path; what does not
    resolve must be a system library. Returns the system libraries the bundle relies on."""
    if not sys.platform.startswith("linux") or not shutil.which("ldd"):
        return []
    internal = internal_dir(bundle)
    elf = [p for p in internal.rglob("*") if p.is_file() and not p.is_symlink() and ".so" in p.name and _is_elf(p)]
    dirs = sorted({str(p.parent) for p in elf})
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join([str(internal)] + dirs))
    missing: dict[str, set[str]] = {}
    for p in elf:
        out = subprocess.run(["ldd", str(p)], capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            if "not found" in line:
                missing.setdefault(line.split("=>")[0].strip(), set()).add(p.name)
    unexpected = {lib: users for lib, users in missing.items() if not SYSTEM_LIBS.match(lib)}
    if unexpected:
        raise BuildError("bundled libraries need libraries that are neither bundled nor system ones: "
                         + "; ".join(f"{lib} (for {', '.join(sorted(u)[:3])})" for lib, u in sorted(unexpected.items())))
    system = set()
    for p in elf:
        out = subprocess.run(["ldd", str(p)], capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+) => (/\S+)", line)
            if m and not m.group(2).startswith(str(bundle)):
                system.add(m.group(1))
    return sorted(system)


def add_linux_extras(bundle: Path, info: buildinfo.ProjectInfo) -> None:
    """install.sh, the .desktop entry and the icons go inside the folder, so the archive is all a user needs."""
    share = bundle / "share"
    share.mkdir(exist_ok=True)
    shutil.copy2(HERE / "linux" / "install.sh", bundle / "install.sh")
    (bundle / "install.sh").chmod(0o755)
    shutil.copy2(HERE / "linux" / "fracture-triage.desktop", share / f"{info.dist_name}.desktop")
    icons = buildinfo.write_icons(share / "icons")
    icons["ico"].unlink()
    icons["png"].unlink()  # the sized copies (fracture-triage-<N>.png) are what install.sh uses


def make_archive(bundle: Path, info: buildinfo.ProjectInfo) -> Path:
    stem = f"{info.dist_name}-{info.version}-{platform_tag()}"
    if sys.platform == "win32":
        out = DIST / f"{stem}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(bundle.rglob("*")):
                zf.write(p, p.relative_to(DIST))
        return out
    out = DIST / f"{stem}.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=6) as tf:
        tf.add(bundle, arcname=bundle.name)
    return out


def run_inno_setup(info: buildinfo.ProjectInfo) -> Path:
    iscc = shutil.which("iscc") or shutil.which("ISCC") or r"C:\Program Files (x86)\Inno Setup 6\ISCC.exe"
    if not Path(iscc).exists() and not shutil.which(iscc):
        raise BuildError("Inno Setup's ISCC.exe not found (choco install innosetup)")
    icon_dir = WORK / "fracture_triage" / "generated" / "icons"
    cmd = [iscc, f"/DAppVersion={info.version}", f"/DAppName={info.app_name}", f"/DDistName={info.dist_name}",
           f"/DPublisher={info.publisher}", f"/DSourceDir={bundle_dir(info)}", f"/DIconFile={icon_dir / 'fracture-triage.ico'}",
           f"/DOutputDir={DIST}", str(HERE / "windows" / "fracture-triage.iss")]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return DIST / f"{info.dist_name}-{info.version}-setup.exe"


def main(argv: list[str] | None = None) -> int:
    global DIST, WORK
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-only", action="store_true", help="check and pack an existing dist/ build")
    ap.add_argument("--require-model", action="store_true", help="fail when resources/models has no model")
    ap.add_argument("--no-archive", action="store_true", help="skip the .tar.gz/.zip")
    ap.add_argument("--installer", action="store_true", help="Windows: build the Inno Setup installer")
    ap.add_argument("--nice", type=int, default=10, help="run PyInstaller under nice -n N on Unix (0: off)")
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller", help="PyInstaller's work folder (default: build/pyinstaller/)")
    args = ap.parse_args(argv)
    DIST, WORK = args.dist.resolve(), args.work.resolve()
    try:
        info = buildinfo.project_info(ROOT)
        print(f"{info.app_name} {info.version} ({info.dist_name}) for {platform_tag()}", flush=True)
        bundle = bundle_dir(info)
        if not args.check_only:
            run_pyinstaller(args.nice)
        exe = bundle / (info.dist_name + (".exe" if sys.platform == "win32" else ""))
        if not exe.is_file():
            raise BuildError(f"no executable at {exe}")
        internal = internal_dir(bundle)
        version = (internal / "resources" / "VERSION").read_text(encoding="utf-8").strip()
        if version != info.version:
            raise BuildError(f"bundle says version {version}, package says {info.version}")
        notes = check_models(internal, args.require_model)
        check_contents(internal)
        system_libs = check_linux_libraries(bundle)
        if sys.platform.startswith("linux"):
            add_linux_extras(bundle, info)
        size_mb = disk_usage(bundle) / 2**20
        for n in notes:
            print(n)
        if system_libs:
            print("system libraries used:", " ".join(system_libs))
        print("bundle parts (biggest first):\n" + "\n".join(size_report(internal)))
        print(f"bundle: {bundle}  {size_mb:.1f} MiB on disk (target <= {SIZE_TARGET_MB} MB)"
              + ("" if size_mb <= SIZE_TARGET_MB else "  OVER TARGET"))
        if not args.no_archive:
            out = make_archive(bundle, info)
            print(f"archive: {out}  {out.stat().st_size / 2**20:.1f} MiB")
        if args.installer:
            print(f"installer: {run_inno_setup(info)}")
    except (BuildError, buildinfo.BuildInfoError) as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"build.py: error: {exc.cmd[0]} failed with status {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
