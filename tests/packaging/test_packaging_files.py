"""Static checks of the packaging files: the spec, the build and smoke scripts, the Linux install
script, the .desktop entry, the Inno Setup script and the CI workflow. Fast; no build."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.packaging.conftest import PACKAGING, ROOT

SPEC = PACKAGING / "fracture_triage.spec"


def _version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_spec_repeats_neither_name_nor_version():
    text = SPEC.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert _version() not in code
    assert '"fracture-triage"' not in code and "'fracture-triage'" not in code
    assert "buildinfo.project_info(" in code


def test_spec_excludes_training_and_uses_one_folder_mode():
    text = SPEC.read_text(encoding="utf-8")
    assert "excludes=list(buildinfo.EXCLUDED_MODULES)" in text
    assert "exclude_binaries=True" in text and "COLLECT(" in text  # one-folder, not one-file
    assert "upx=False" in text
    assert "raise SystemExit" in text  # refuses a bundle with excluded modules in it


def test_spec_collects_pydicom_and_the_pylibjpeg_entry_points():
    text = SPEC.read_text(encoding="utf-8")
    assert 'collect_submodules("pydicom"' in text and 'collect_data_files("pydicom"' in text
    assert "pylibjpeg.pixel_data_decoders" in text and "collect_entry_point(group)" in text
    for dist in ("pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle"):
        assert f'"{dist}"' in text


def test_pylibjpeg_plugins_are_found_through_metadata_entry_points():
    """What the spec relies on: pydicom learns about the plugins from their dist-info entry points."""
    from importlib import metadata

    eps = metadata.entry_points(group="pylibjpeg.pixel_data_decoders")
    modules = {ep.value.split(":")[0] for ep in eps}
    assert {"libjpeg", "openjpeg", "rle"} <= modules
    assert "1.2.840.10008.1.2.4.90" in {ep.name for ep in eps}  # JPEG 2000 lossless


def test_store_migrations_are_shipped_as_files():
    text = SPEC.read_text(encoding="utf-8")
    assert 'rglob("migrations")' in text
    migrations = ROOT / "core" / "store" / "migrations"
    if migrations.is_dir():
        assert (migrations / "env.py").is_file()


def test_frozen_entry_refuses_training_commands_clearly(launch, capsys, monkeypatch):
    from core import cli

    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", dict(cli.SUBCOMMAND_MODULES))  # restored after the test
    assert launch.frozen_main(["train", "--data", "x"]) == 2
    assert "not part of the installed app" in capsys.readouterr().err
    assert not {"train", "evaluate", "card"} & set(cli.SUBCOMMAND_MODULES)
    assert "scan" in cli.SUBCOMMAND_MODULES


def test_frozen_entry_times_from_process_start(launch):
    assert 0.0 <= launch.seconds_since_process_start() < 24 * 3600


@pytest.mark.parametrize("script", ["linux/install.sh", "smoke_test.sh"])
def test_shell_scripts_parse(script):
    subprocess.run(["sh", "-n", str(PACKAGING / script)], check=True)
    assert os.access(PACKAGING / script, os.X_OK)


def test_build_and_smoke_scripts_answer_help():
    for script in ("build.py", "smoke.py"):
        out = subprocess.run([sys.executable, str(PACKAGING / script), "--help"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert "usage:" in out.stdout


def test_desktop_entry():
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str
    cp.read(PACKAGING / "linux" / "fracture-triage.desktop", encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Fracture Triage"
    assert entry["Exec"].split()[0] == "fracture-triage" and entry["Icon"] == "fracture-triage"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")


def test_inno_setup_script_takes_the_version_from_the_build():
    text = (PACKAGING / "windows" / "fracture-triage.iss").read_text(encoding="utf-8")
    assert _version() not in text
    assert "AppVersion={#AppVersion}" in text and "#error AppVersion must be passed" in text
    assert "PrivilegesRequired=lowest" in text  # per-user install, no admin
    build = (PACKAGING / "build.py").read_text(encoding="utf-8")
    assert "/DAppVersion=" in build


def test_workflow_builds_on_hosted_windows_and_linux():
    text = (ROOT / ".github" / "workflows" / "build.yml").read_text(encoding="utf-8")
    assert re.search(r"runs-on:\s*windows-", text) and re.search(r"runs-on:\s*ubuntu-", text)
    assert "packaging/build.py" in text and "packaging\\build.py --installer" in text
    assert "packaging/smoke_test.sh" in text
    try:
        import yaml
    except ImportError:
        return
    doc = yaml.safe_load(text)
    assert set(doc["jobs"]) == {"linux", "windows"}


def _fake_bundle(tmp_path):
    bundle = tmp_path / "unpacked" / "fracture-triage"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "share" / "icons").mkdir(parents=True)
    exe = bundle / "fracture-triage"
    exe.write_text("#!/bin/sh\necho 'Fracture Triage 9.9.9'\n")
    exe.chmod(0o755)
    shutil.copy2(PACKAGING / "linux" / "install.sh", bundle / "install.sh")
    shutil.copy2(PACKAGING / "linux" / "fracture-triage.desktop", bundle / "share" / "fracture-triage.desktop")
    for n in (48, 256):
        (bundle / "share" / "icons" / f"fracture-triage-{n}.png").write_bytes(b"png")
    return bundle


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell script")
def test_install_script_installs_per_user_and_uninstalls_without_touching_data(tmp_path):
    bundle = _fake_bundle(tmp_path)
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"), PATH="/usr/bin:/bin")
    env.pop("WAYLAND_DISPLAY", None)
    user_data = home / ".local" / "share" / "fracture-triage"
    user_data.mkdir(parents=True)
    (user_data / "fracture-triage.sqlite3").write_text("decisions")
    out = subprocess.run(["sh", str(bundle / "install.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    app = home / ".local" / "share" / "fracture-triage-app"
    assert (app / "fracture-triage").is_file() and "Installed Fracture Triage 9.9.9" in out.stdout
    link = home / ".local" / "bin" / "fracture-triage"
    assert link.is_symlink() and os.readlink(link) == str(app / "fracture-triage")
    desktop = (home / ".local" / "share" / "applications" / "fracture-triage.desktop").read_text()
    assert f'Exec="{app}/fracture-triage" %f' in desktop
    assert (home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "fracture-triage.png").is_file()
    # a second install replaces the first
    out = subprocess.run(["sh", str(bundle / "install.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(["sh", str(app / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert not app.exists() and not link.exists()
    assert not (home / ".local" / "share" / "applications" / "fracture-triage.desktop").exists()
    assert (user_data / "fracture-triage.sqlite3").read_text() == "decisions"


def test_install_script_maps_missing_libraries_to_apt_packages(tmp_path):
    text = (PACKAGING / "linux" / "install.sh").read_text(encoding="utf-8")
    for lib, pkg in (("libxcb-cursor.so.0", "libxcb-cursor0"), ("libEGL.so.1", "libegl1"),
                     ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0")):
        assert f"{lib}) echo {pkg} ;;" in text
    script = tmp_path / "map.sh"
    body = text.split("# shared library -> Debian/Ubuntu package\n", 1)[1].split("\n}\n", 1)[0] + "\n}\n"
    script.write_text(body + 'for l in "$@"; do pkg_for "$l"; done\n')
    out = subprocess.run(["sh", str(script), "libxcb-shape.so.0", "libxcb-randr.so.0", "libfoo.so.1"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["libxcb-shape0", "libxcb-randr0", "?libfoo.so.1"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell script")
def test_install_check_prints_the_exact_apt_get_command(tmp_path):
    bundle = _fake_bundle(tmp_path)
    qt = bundle / "_internal" / "PySide6" / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").mkdir(parents=True)
    (qt / "plugins" / "platforms" / "libqxcb.so").write_bytes(b"\x7fELF")
    (qt / "lib" / "libQt6Gui.so.6").write_bytes(b"\x7fELF")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    ldd = fake_bin / "ldd"  # stands in for a machine without the xcb libraries
    ldd.write_text("#!/bin/sh\necho '\tlibxcb-cursor.so.0 => not found'\necho '\tlibEGL.so.1 => not found'\n"
                   "echo '\tlibc.so.6 => /lib/libc.so.6 (0x1)'\n")
    ldd.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}:/usr/bin:/bin", HOME=str(tmp_path / "home"))
    env.pop("WAYLAND_DISPLAY", None)
    out = subprocess.run(["sh", str(bundle / "install.sh"), "--check"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1
    assert "sudo apt-get install -y libegl1 libxcb-cursor0" in out.stderr
    assert "MISSING system libraries" in out.stderr
