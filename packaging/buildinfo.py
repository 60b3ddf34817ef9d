"""Build-time facts, generated files and bundle-trimming rules for the PyInstaller bundle, shared by
``fracture_triage.spec``, ``build.py`` and the packaging tests: the distribution's name and version (read
from the installed package's metadata, checked against ``pyproject.toml``, never repeated in the spec),
the ``resources/VERSION`` file the frozen app reads, the Windows version resource, the icons (the app's
own ``resources/icons/app.*`` in the sizes Linux menus want; a drawn fallback), and what stays out:
excluded modules, the Qt plugins kept, pruning of libraries only dropped plugins needed, stripping.

Runs in the build environment only; the app never imports it. No ``__init__.py`` in ``packaging/`` on
purpose: a package named ``packaging`` would shadow the PyPI ``packaging`` that PyInstaller uses.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the bundle must never contain (module prefixes): training, tests and their tools, torch.
EXCLUDED_MODULES = (
    "torch", "torchvision", "torchaudio", "functorch", "triton", "sympy", "networkx",
    "core.training", "core.cli.train_cmd", "tests", "pytest", "_pytest", "pytestqt", "hypothesis", "onnx",
    "onnxruntime.quantization", "onnxruntime.transformers", "onnxruntime.tools",
    "onnxruntime.backend", "onnxruntime.datasets",
    "tkinter", "_tkinter", "matplotlib", "IPython", "jedi", "pandas", "scipy",
    "setuptools", "pip", "wheel", "PyInstaller", "data_store.tests",
    "sqlalchemy.testing", "mako.testing", "numpy.tests", "readline",
    # the OS keyring (optional extra; core.store.passwords says so when it is missing): not bundled
    "keyring", "secretstorage", "jeepney",
    # (ssl stays: psycopg imports it when it loads, to share OpenSSL's set-up with libpq — without it
    # the bundle cannot reach a PostgreSQL server at all — and TLS to a networked server needs it)
    # Pillow parts the app does not use: fonts (freetype, harfbuzz), Tk, WebP and AVIF images
    "PIL.ImageFont", "PIL._imagingft", "PIL.ImageTk", "PIL._imagingtk", "PIL.WebPImagePlugin", "PIL._webp",
    "PIL.AvifImagePlugin", "PIL._avif",
    # pulled in by optional debugging helpers only (pydantic's schema pretty-printer, Mako's Pygments
    # plugin), never by the app: 2.3 MiB of the archive
    "rich", "pygments", "markdown_it", "mdurl", "mako.ext.pygmentplugin", "pydoc_data",
    # SQLAlchemy dialects of servers the store does not support (SQLite and PostgreSQL only)
    "sqlalchemy.dialects.mysql", "sqlalchemy.dialects.mssql", "sqlalchemy.dialects.oracle",
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick", "PySide6.QtWebChannel", "PySide6.QtWebSockets", "PySide6.Qt3DCore",
    "PySide6.Qt3DRender", "PySide6.QtMultimedia", "PySide6.QtMultimediaWidgets", "PySide6.QtPdf",
    "PySide6.QtPdfWidgets", "PySide6.QtCharts", "PySide6.QtDataVisualization", "PySide6.QtGraphs",
    "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner", "PySide6.QtUiTools", "PySide6.QtHelp",
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtPrintSupport", "PySide6.QtXml",
    "PySide6.QtConcurrent", "PySide6.QtDBus", "PySide6.QtBluetooth", "PySide6.QtPositioning",
    "PySide6.QtSerialPort", "PySide6.QtSensors", "PySide6.QtSpatialAudio", "PySide6.QtTextToSpeech",
    "PySide6.QtStateMachine", "PySide6.QtRemoteObjects", "PySide6.QtScxml", "PySide6.QtNfc",
    "PySide6.QtHttpServer", "PySide6.QtLocation", "PySide6.QtQuick3D", "PySide6.QtAxContainer",
)

# What of resources/models/ the app needs: the ONNX model, its JSON card, the human-readable card.
# Never a torch checkpoint (.pt) or training plots.
MODEL_FILE_SUFFIXES = (".onnx", ".json", ".md")

# The demo radiographs (``--demo``) bundled from the pydicom-data package: the JPEG 2000 CR chest and
# tibia, 1.7 MB in all (the package is 56 MB; core/demo.py takes whichever of its files exist).
DEMO_FILES = ("RG1_J2KI.dcm", "RG3_J2KI.dcm", "RG3_J2KR.dcm")

# Qt plugins kept, by plugin directory, as file names without "lib" and extension (Linux, Windows,
# macOS names); every other plugin and plugin directory is dropped. PNG support is built into QtGui.
QT_PLUGINS = {
    "platforms": ("qoffscreen", "qminimal", "qxcb", "qwayland", "qwindows", "qcocoa"),
    "imageformats": ("qsvg", "qjpeg", "qico", "qgif"),
    "iconengines": ("qsvgicon",),
    "platformthemes": ("qxdgdesktopportal",),
    "platforminputcontexts": ("composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"),
    "xcbglintegrations": ("qxcb-glx-integration", "qxcb-egl-integration"),
    "wayland-shell-integration": ("xdg-shell",),
    "wayland-decoration-client": ("bradient",),
    "wayland-graphics-integration-client": ("qt-plugin-wayland-egl",),
    "styles": ("qmodernwindowsstyle", "qwindowsvistastyle", "qmacstyle"),
}

# Qt shared libraries no kept module or plugin needs (pulled in by dropped plugins or by nothing).
QT_LIB_EXCLUDES = re.compile(
    r"(Qt6?(Qml|Quick|Pdf|Network|Designer|Help|Test|UiTools|Sql|Labs|Lottie|VirtualKeyboard|Multimedia|"
    r"WebEngine|WebChannel|WebSockets|3D|Charts|DataVis|Graphs|Bluetooth|Positioning|Sensors|SerialPort|"
    r"ShaderTools|SpatialAudio|TextToSpeech|StateMachine|RemoteObjects|Scxml|Nfc|HttpServer|Location|"
    r"WaylandCompositor|WlShellIntegration|EglF[sS]|Concurrent|PrintSupport|Xml|OpenGLWidgets))",
)


class BuildInfoError(Exception):
    """The build environment is inconsistent (e.g. a stale editable install)."""


@dataclass(frozen=True)
class ProjectInfo:
    dist_name: str  # "fracture-triage": executable and folder name
    app_name: str  # "Fracture Triage": what a user sees
    version: str  # "0.1.0"
    description: str
    publisher: str = "Fracture Triage project"

    @property
    def version_tuple(self) -> tuple[int, int, int, int]:
        """Four integers for a Windows version resource ("0.1.0rc1" -> (0, 1, 0, 0))."""
        nums = [int(n) for n in re.findall(r"\d+", self.version.split("+")[0].split("rc")[0])[:4]]
        return tuple((nums + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


def project_info(root: Path = ROOT) -> ProjectInfo:
    """Name and version from the installed distribution's metadata, checked against pyproject.toml.

    The metadata of an editable install goes stale when pyproject's version changes without a
    reinstall; a bundle carrying the wrong version is worse than a failed build, so say so.
    """
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist_name = pyproject["name"]
    try:
        meta = metadata.metadata(dist_name)
    except metadata.PackageNotFoundError as exc:
        raise BuildInfoError(
            f"{dist_name} is not installed in this environment ({sys.executable}); "
            f"run: {sys.executable} -m pip install -e '.[build]'"
        ) from exc
    version = meta["Version"]
    if "version" in pyproject and pyproject["version"] != version:
        raise BuildInfoError(
            f"installed {dist_name} metadata says {version} but pyproject.toml says {pyproject['version']}: "
            f"reinstall with {sys.executable} -m pip install -e '.[build]'"
        )
    app_name = _app_name(root) or meta["Name"]
    return ProjectInfo(dist_name=meta["Name"], app_name=app_name, version=version,
                       description=meta["Summary"] or app_name)


def _app_name(root: Path) -> str | None:
    """``core.APP_NAME`` read from the source (no import: the spec process stays clean)."""
    try:
        text = (root / "core" / "__init__.py").read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(r'^APP_NAME\s*=\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else None


def write_version_file(path: Path, info: ProjectInfo) -> Path:
    """``resources/VERSION`` for the bundle (``core.resources.bundled_version`` reads it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(info.version + "\n", encoding="utf-8")
    return path


def windows_version_text(info: ProjectInfo) -> str:
    """The Windows executable's version resource (file/product version, names, description) in
    PyInstaller's text format, which ``EXE(version=...)`` reads. Written as text here because
    PyInstaller's own classes need ``pefile``, which only Windows installs of PyInstaller carry."""
    vt = info.version_tuple
    strings = [
        ("CompanyName", info.publisher),
        ("FileDescription", info.app_name),
        ("FileVersion", info.version),
        ("InternalName", info.dist_name),
        ("LegalCopyright", f"(c) {info.publisher}"),
        ("OriginalFilename", f"{info.dist_name}.exe"),
        ("ProductName", info.app_name),
        ("ProductVersion", info.version),
    ]
    table = ",\n          ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings)
    return f"""# UTF-8
# Generated by packaging/buildinfo.py from the package metadata; do not edit.
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={vt!r},
    prodvers={vt!r},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [{table}])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_windows_version_file(path: Path, info: ProjectInfo) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(windows_version_text(info), encoding="utf-8")
    return path


ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def draw_icon(size: int):
    """A fallback app icon at ``size`` px: a white bone with a red fracture line on a dark blue rounded tile."""
    from PIL import Image, ImageDraw

    s = 4 * size  # draw large, downsample: smooth edges at every size
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 5, fill=(22, 44, 74, 255))
    bone = Image.new("L", (s, s), 0)
    b = ImageDraw.Draw(bone)
    r = s * 0.11
    x0, x1, yc = s * 0.27, s * 0.73, s / 2
    b.rectangle((x0, yc - r * 0.62, x1, yc + r * 0.62), fill=255)
    for x in (x0, x1):
        for dy in (-r * 0.85, r * 0.85):
            b.ellipse((x - r, yc + dy - r, x + r, yc + dy + r), fill=255)
    bone = bone.rotate(45, resample=Image.BICUBIC)
    img.paste((236, 240, 245, 255), (0, 0), bone)
    w = max(2, s // 28)
    c = s / 2
    crack = [(c - s * 0.16, c - s * 0.12), (c - s * 0.02, c - s * 0.04), (c - s * 0.06, c + s * 0.04),
             (c + s * 0.14, c + s * 0.14)]
    d.line(crack, fill=(226, 62, 54, 255), width=w, joint="curve")
    return img.resize((size, size), Image.LANCZOS)


def write_icons(out_dir: Path, icons_dir: Path = ROOT / "resources" / "icons") -> dict[str, Path]:
    """``fracture-triage-<N>.png`` for each size, ``fracture-triage.png`` (256), ``fracture-triage.ico`` and,
    when the app has one, ``fracture-triage.svg``.

    The app's own icon (``resources/icons/app.png``/``app.ico``/``app.svg``, the window icon) is used when
    present, so the menu, the taskbar and the window agree; otherwise one is drawn (``draw_icon``).
    """
    import shutil

    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    app_png = icons_dir / "app.png"
    if app_png.is_file():
        base = Image.open(app_png).convert("RGBA")
        images = {n: base.resize((n, n), Image.LANCZOS) if base.size != (n, n) else base for n in ICON_SIZES}
    else:
        images = {n: draw_icon(n) for n in ICON_SIZES}
    paths: dict[str, Path] = {}
    for n, im in images.items():
        p = out_dir / f"fracture-triage-{n}.png"
        im.save(p)
        paths[f"png{n}"] = p
    paths["png"] = out_dir / "fracture-triage.png"
    images[256].save(paths["png"])
    paths["ico"] = out_dir / "fracture-triage.ico"
    if (icons_dir / "app.ico").is_file():
        shutil.copyfile(icons_dir / "app.ico", paths["ico"])
    else:
        images[256].save(paths["ico"], format="ICO", sizes=[(n, n) for n in ICON_SIZES])
    if (icons_dir / "app.svg").is_file():
        paths["svg"] = out_dir / "fracture-triage.svg"
        shutil.copyfile(icons_dir / "app.svg", paths["svg"])
    return paths


# onnxruntime's C-API library on Linux (libonnxruntime.so.*, 33 MiB): the Python module
# onnxruntime_pybind11_state does not link it (it holds the runtime and the CPU provider itself, see
# `ldd`), so the bundle does not ship it. (Windows/macOS layouts are left as they are.)
UNUSED_ONNXRUNTIME_LIBS = ("libonnxruntime.so",)


def keep_qt_file(dest: str) -> bool:
    """Whether a collected file (its destination path inside the bundle) belongs in the bundle.

    Qt plugins outside ``QT_PLUGINS``, Qt translations, QML, WebEngine resources, the Qt libraries
    matched by ``QT_LIB_EXCLUDES`` and onnxruntime's unused C-API/provider libraries
    (``UNUSED_ONNXRUNTIME_LIBS``) are dropped; everything else is kept.
    """
    parts = Path(dest.replace("\\", "/")).parts
    if parts[:2] == ("onnxruntime", "capi") and parts[-1].startswith(UNUSED_ONNXRUNTIME_LIBS):
        return False
    if "PySide6" not in parts:
        return True
    rest = parts[parts.index("PySide6") + 1:]
    if rest[:1] == ("Qt",):
        rest = rest[1:]
    if rest[:1] in (("translations",), ("qml",), ("resources",), ("libexec",), ("metatypes",)):
        return False
    name = parts[-1]
    if rest[:1] == ("plugins",):
        if len(rest) < 3:
            return False
        stem = name.split(".")[0]
        stem = stem[3:] if stem.startswith("lib") else stem
        return stem in QT_PLUGINS.get(rest[1], ())
    return not QT_LIB_EXCLUDES.search(name)


# What of a distribution's metadata folder the app reads (``importlib.metadata``: versions for `info`,
# pydicom's and pylibjpeg's entry points): METADATA, entry_points.txt, top_level.txt, INSTALLER, WHEEL.
# The file list (RECORD), software bills of materials (sboms/) and licence files stay out: the bundle's
# THIRD-PARTY-NOTICES.txt carries every licence text, generated from the installed distributions.
_METADATA_DROPPED = re.compile(r"^(RECORD|sboms|licenses|licences|LICEN[CS]E.*|COPYING.*|NOTICE.*|AUTHORS.*)$", re.I)


def keep_metadata_file(dest: str) -> bool:
    """Whether a file inside a ``*.dist-info`` folder belongs in the bundle (see ``_METADATA_DROPPED``)."""
    parts = Path(dest.replace("\\", "/")).parts
    for i, part in enumerate(parts[:-1]):
        if part.endswith(".dist-info"):
            return not _METADATA_DROPPED.match(parts[i + 1])
    return True


def keep_file(dest: str) -> bool:
    """``keep_qt_file`` and ``keep_metadata_file``: the one rule ``prune_bundle`` applies in the spec."""
    return keep_qt_file(dest) and keep_metadata_file(dest)


def slim_metadata(datas: list, out_dir: Path) -> tuple[list, int]:
    """Each bundled ``*.dist-info/METADATA`` without its long description (the package's README, up
    to 140 KiB): ``importlib.metadata`` reads only the header fields (name, version, requirements).
    Copies are written under ``out_dir``; returns the new datas TOC and the bytes saved."""
    out, saved = [], 0
    for dest, src, typecode in datas:
        parts = Path(dest.replace("\\", "/")).parts
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            text = Path(src).read_text(encoding="utf-8", errors="surrogateescape")
            head = text.split("\n\n", 1)[0].rstrip("\n") + "\n"
            if len(head) < len(text):
                target = out_dir / parts[0] / "METADATA"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(head, encoding="utf-8", errors="surrogateescape")
                saved += len(text.encode("utf-8", "surrogateescape")) - len(head.encode("utf-8", "surrogateescape"))
                out.append((dest, str(target), typecode))
                continue
        out.append((dest, src, typecode))
    return out, saved


def prune_bundle(binaries: list, datas: list, get_imports, keep=keep_file) -> tuple[list, list, list[str]]:
    """Drop the files ``keep`` rejects (unneeded Qt plugins, ...) and every library that only they needed.

    PyInstaller analyses the dependencies of every plugin its Qt hooks collect before the spec can drop
    any, so dropping a plugin (e.g. the GTK3 theme) leaves its libraries (cairo, pango, ...) behind. Here
    a library goes when it is reachable from a dropped file and not from any kept one.
    ``get_imports(src_path) -> iterable of (name, path)`` is PyInstaller's ``bindepend.get_imports``.
    Returns the new binaries and datas TOC lists and the removed destination paths.
    """
    def norm(p: str) -> str:
        return str(Path(p.replace("\\", "/")))

    real = {norm(d): s for d, s, t in binaries if t != "SYMLINK"}
    links = {norm(d): norm(s) for d, s, t in binaries if t == "SYMLINK"}
    by_name: dict[str, str] = {}
    for dest in real:
        by_name.setdefault(Path(dest).name, dest)
    for dest, target in links.items():
        by_name.setdefault(Path(dest).name, target)
    deps_cache: dict[str, set[str]] = {}

    def deps(dest: str) -> set[str]:
        if dest not in deps_cache:
            found = set()
            try:
                for name, _path in get_imports(real[dest]):
                    target = by_name.get(Path(str(name).replace("\\", "/")).name)
                    if target and target != dest:
                        found.add(target)
            except Exception:  # noqa: BLE001 - an unreadable binary keeps what it would have needed
                pass
            deps_cache[dest] = found
        return deps_cache[dest]

    def closure(start: set[str]) -> set[str]:
        seen, todo = set(start), list(start)
        while todo:
            for d in deps(todo.pop()):
                if d in real and d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen

    dropped = {d for d in real if not keep(d)}
    only_via_dropped = closure(dropped) - dropped
    roots = set(real) - dropped - only_via_dropped
    removed = dropped | (only_via_dropped - closure(roots))
    new_binaries = [e for e in binaries if norm(e[0]) not in removed
                    and not (e[2] == "SYMLINK" and (norm(e[1]) in removed or not keep(e[1])))]
    new_datas = [e for e in datas if keep(e[0])
                 and not (e[2] == "SYMLINK" and (norm(e[1]) in removed or not keep(e[1])))]
    return new_binaries, new_datas, sorted(removed)


def strip_binaries(binaries: list, out_dir: Path, min_saving: int = 64 * 1024) -> tuple[list, int]:
    """Linux: replace binaries that carry symbol tables (libpython, the decoder and Cython extensions)
    with stripped copies made in ``out_dir``. Returns the new TOC and the bytes saved.

    Not PyInstaller's blanket ``strip=True``: the auditwheel-vendored libraries (``*.libs/``) were
    rewritten by patchelf and ``strip`` corrupts those (numpy's OpenBLAS no longer loads: "ELF load
    command address/offset not page-aligned"), and Qt's libraries are left as shipped — except ICU's
    two code libraries, which PySide6 ships with their symbol tables (1.3 MiB).
    """
    import shutil
    import subprocess

    strip = shutil.which("strip")
    if not sys.platform.startswith("linux") or not strip:
        return binaries, 0
    out, saved = [], 0
    for dest, src, typecode in binaries:
        parts = Path(dest).parts
        qt_icu = parts[0] == "PySide6" and parts[-1].startswith(("libicuuc.so", "libicui18n.so"))
        if (typecode not in ("BINARY", "EXTENSION") or any(p.endswith(".libs") for p in parts)
                or (parts[0] in ("PySide6", "shiboken6") and not qt_icu)):
            out.append((dest, src, typecode))
            continue
        try:
            with open(src, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    raise OSError("not ELF")
            target = out_dir / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            subprocess.run([strip, "--strip-unneeded", str(target)], check=True, capture_output=True)
            gain = Path(src).stat().st_size - target.stat().st_size
        except (OSError, subprocess.CalledProcessError):
            out.append((dest, src, typecode))
            continue
        if gain >= min_saving:
            out.append((dest, str(target), typecode))
            saved += gain
        else:
            out.append((dest, src, typecode))
    return out, saved

