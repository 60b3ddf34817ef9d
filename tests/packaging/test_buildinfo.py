"""packaging/buildinfo.py: name and version from the package metadata, the generated VERSION and Windows
version resource, the icon, and the rules that keep the bundle small (Qt plugin choice, pruning)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT


def test_name_and_version_come_from_the_package_metadata(buildinfo):
    info = buildinfo.project_info()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert info.version == metadata.version("fracture-triage") == pyproject["version"]
    assert info.dist_name == "fracture-triage"
    from core import APP_NAME

    assert info.app_name == APP_NAME


def test_a_stale_install_is_refused(buildinfo, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "fracture-triage"\nversion = "99.0.0"\n')
    with pytest.raises(buildinfo.BuildInfoError, match="reinstall"):
        buildinfo.project_info(tmp_path)


def test_an_uninstalled_distribution_is_refused(buildinfo, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "no-such-dist-ft"\nversion = "1.0"\n')
    with pytest.raises(buildinfo.BuildInfoError, match="not installed"):
        buildinfo.project_info(tmp_path)


@pytest.mark.parametrize("version, expected", [("0.1.0", (0, 1, 0, 0)), ("1.2.3.4", (1, 2, 3, 4)),
                                               ("2.0rc1", (2, 0, 0, 0)), ("1.4.0+local.5", (1, 4, 0, 0))])
def test_windows_version_tuple(buildinfo, version, expected):
    assert buildinfo.ProjectInfo("d", "A", version, "x").version_tuple == expected


def test_version_file_is_what_the_frozen_app_reads(buildinfo, tmp_path, monkeypatch):
    info = buildinfo.project_info()
    path = buildinfo.write_version_file(tmp_path / "resources" / "VERSION", info)
    monkeypatch.setenv("FRACTURE_TRIAGE_RESOURCES", str(path.parent))
    from core.resources import bundled_version

    assert bundled_version() == info.version


def test_windows_version_resource(buildinfo, tmp_path):
    import ast

    info = buildinfo.project_info()
    path = buildinfo.write_windows_version_file(tmp_path / "v.txt", info)
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, mode="exec")  # PyInstaller evaluates it as one Python expression
    assert len(tree.body) == 1 and isinstance(tree.body[0].value, ast.Call)
    assert f"StringStruct('ProductVersion', '{info.version}')" in text
    assert f"StringStruct('OriginalFilename', '{info.dist_name}.exe')" in text
    assert f"filevers={info.version_tuple!r}" in text
    try:  # PyInstaller's reader needs pefile, which only Windows installs carry
        from PyInstaller.utils.win32 import versioninfo
    except ImportError:
        return
    loaded = versioninfo.load_version_info_from_text_file(str(path))
    assert loaded.ffi.fileVersionMS == (info.version_tuple[0] << 16) | info.version_tuple[1]


def test_icons_for_linux_and_windows(buildinfo, tmp_path):
    from PIL import Image

    paths = buildinfo.write_icons(tmp_path)
    for n in buildinfo.ICON_SIZES:
        assert Image.open(paths[f"png{n}"]).size == (n, n)
    ico = Image.open(paths["ico"])
    assert ico.format == "ICO" and (256, 256) in ico.info["sizes"]


def test_fallback_icon_is_drawn_when_the_app_has_none(buildinfo, tmp_path):
    from PIL import Image

    paths = buildinfo.write_icons(tmp_path / "out", icons_dir=tmp_path / "none")
    assert Image.open(paths["png"]).size == (256, 256)
    assert "svg" not in paths
    assert Image.open(paths["ico"]).format == "ICO"


@pytest.mark.parametrize("dest, kept", [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
    ("PySide6/Qt/plugins/platforms/libqminimal.so", True),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
    ("PySide6/Qt/plugins/imageformats/libqjpeg.so", True),
    ("PySide6/Qt/plugins/imageformats/libqico.so", True),
    ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
    ("PySide6/Qt/plugins/imageformats/libqwebp.so", False),
    ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
    ("PySide6/Qt/plugins/qmltooling/libqmldbg_server.so", False),
    ("PySide6/Qt/lib/libQt6Gui.so.6", True),
    ("PySide6/Qt/lib/libQt6XcbQpa.so.6", True),
    ("PySide6/Qt/lib/libQt6Svg.so.6", True),
    ("PySide6/Qt/lib/libQt6Quick.so.6", False),
    ("PySide6/Qt/lib/libQt6Qml.so.6", False),
    ("PySide6/Qt/lib/libQt6Network.so.6", False),
    ("PySide6/Qt/lib/libQt6Pdf.so.6", False),
    ("PySide6/Qt/lib/libQt6WebEngineCore.so.6", False),
    ("PySide6/Qt/translations/qtbase_de.qm", False),
    ("PySide6/Qt/qml/QtQuick/qmldir", False),
    # Windows layout
    ("PySide6\\plugins\\platforms\\qwindows.dll", True),
    ("PySide6\\plugins\\platforms\\qdirect2d.dll", False),
    ("PySide6\\plugins\\styles\\qmodernwindowsstyle.dll", True),
    ("PySide6\\plugins\\imageformats\\qjpeg.dll", True),
    ("PySide6\\Qt6Widgets.dll", True),
    ("PySide6\\Qt6Quick.dll", False),
    ("PySide6\\opengl32sw.dll", True),
    # not Qt: untouched
    ("onnxruntime/capi/libonnxruntime_providers_shared.so", True),
    ("onnxruntime/capi/libonnxruntime.so.1.32.0", False),  # the C API: the Python module does not link it
    ("onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so", True),
    ("numpy.libs/libscipy_openblas64_.so", True),
])
def test_only_the_qt_plugins_the_app_needs(buildinfo, dest, kept):
    assert buildinfo.keep_qt_file(dest) is kept


def test_pruning_drops_what_only_dropped_plugins_needed(buildinfo):
    graph = {
        "/s/libqgtk3.so": ["libgtk-3.so.0", "libQt6Gui.so.6"],
        "/s/libgtk-3.so.0": ["libcairo.so.2"],
        "/s/libcairo.so.2": ["libpixman-1.so.0"],
        "/s/libpixman-1.so.0": [],
        "/s/libqxcb.so": ["libQt6XcbQpa.so.6"],
        "/s/libQt6XcbQpa.so.6": ["libQt6Gui.so.6", "libxcb-cursor.so.0"],
        "/s/libxcb-cursor.so.0": [],
        "/s/libQt6Gui.so.6": ["libpixman-1.so.0"],  # also needed by a kept library: stays
    }

    def get_imports(src):
        return [(name, None) for name in graph[src]]

    binaries = [
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/s/libqgtk3.so", "BINARY"),
        ("libgtk-3.so.0", "/s/libgtk-3.so.0", "BINARY"),
        ("libcairo.so.2", "/s/libcairo.so.2", "BINARY"),
        ("libpixman-1.so.0", "/s/libpixman-1.so.0", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/s/libqxcb.so", "BINARY"),
        ("PySide6/Qt/lib/libQt6XcbQpa.so.6", "/s/libQt6XcbQpa.so.6", "BINARY"),
        ("libxcb-cursor.so.0", "/s/libxcb-cursor.so.0", "BINARY"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/s/libQt6Gui.so.6", "BINARY"),
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libQt6Pdf.so.6", "PySide6/Qt/plugins/imageformats/libqpdf.so", "SYMLINK"),  # to a dropped file
    ]
    datas = [("PySide6/Qt/translations/qtbase_de.qm", "/s/qtbase_de.qm", "DATA"), ("pydicom/x.json", "/s/x", "DATA")]
    new_bin, new_datas, removed = buildinfo.prune_bundle(binaries, datas, get_imports)
    kept = {d for d, *_ in new_bin}
    assert {"libgtk-3.so.0", "libcairo.so.2", "PySide6/Qt/plugins/platformthemes/libqgtk3.so"} <= set(removed)
    assert {"libpixman-1.so.0", "libxcb-cursor.so.0", "PySide6/Qt/lib/libQt6XcbQpa.so.6", "libQt6Gui.so.6"} <= kept
    assert "libQt6Pdf.so.6" not in kept  # a link to a dropped file goes with it
    assert [d for d, *_ in new_datas] == ["pydicom/x.json"]


def test_excluded_modules_cover_torch_training_and_tests(buildinfo):
    excluded = set(buildinfo.EXCLUDED_MODULES)
    assert {"torch", "core.training", "core.cli.train_cmd", "tests", "pytest", "onnx", "hypothesis"} <= excluded
    assert {"PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore",
            "PySide6.QtNetwork"} <= excluded
    for needed in ("onnxruntime", "pydicom", "PySide6.QtSvg", "PySide6.QtWidgets", "sqlalchemy", "alembic"):
        assert needed not in excluded


def test_packaging_is_not_a_python_package():
    # an __init__.py would make packaging/ shadow the PyPI 'packaging' that PyInstaller imports
    assert not (ROOT / "packaging" / "__init__.py").exists()


def test_strip_leaves_vendored_and_qt_libraries_alone(buildinfo, tmp_path):
    binaries = [("numpy.libs/libopenblas.so", "/nonexistent/a", "BINARY"),
                ("PySide6/Qt/lib/libQt6Core.so.6", "/nonexistent/b", "BINARY"),
                ("resources/models/m.onnx", "/nonexistent/c", "DATA")]
    out, saved = buildinfo.strip_binaries(binaries, tmp_path)
    assert out == binaries and saved == 0
    assert not any(Path(tmp_path).iterdir())
