"""What makes the bundle smaller without changing what the app does (issue 15): ICU's data cut to what
Qt uses (``packaging/icudata.py``), one OpenSSL (``packaging/syslibs.py``), metadata files the app
never reads (``packaging/buildinfo.py``) and the system's D-Bus library (``packaging/syslibs.py``)."""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import load


@pytest.fixture(scope="module")
def icudata():
    return load("icudata", "icudata.py")


@pytest.fixture(scope="module")
def syslibs():
    return load("syslibs", "syslibs.py")


def _header() -> bytes:
    # headerSize 32, magic, UDataInfo (size 20, little-endian, ASCII, 2-byte UChar) "CmnD" 1.0
    info = struct.pack("<HHBBBB", 20, 0, 0, 0, 2, 0) + b"CmnD" + bytes([1, 0, 0, 0]) + bytes([0, 0, 0, 0])
    return (struct.pack("<H", 32) + b"\xda\x27" + info).ljust(32, b"\0")


ITEMS = [("icudt73l/root.res", b"R" * 40), ("icudt73l/de.res", b"D" * 7), ("icudt73l/en_GB.res", b"E" * 3),
         ("icudt73l/brkitr/cjdict.dict", b"B" * 100), ("icudt73l/coll/ucadata.icu", b"U" * 33),
         ("icudt73l/coll/sv.res", b"S" * 5), ("icudt73l/ibm-943_P15A-2003.cnv", b"C" * 50),
         ("icudt73l/cnvalias.icu", b"A" * 9), ("icudt73l/zone/en.res", b"Z" * 4), ("icudt73l/zone/de.res", b"z" * 4),
         ("icudt73l/zoneinfo64.res", b"I" * 12), ("icudt73l/unit/de.res", b"N" * 20)]


def test_a_package_reads_back_as_written(icudata):
    blob = icudata.write_package(_header(), ITEMS)
    header, items = icudata.read_package(blob)
    assert header == _header()
    want = sorted(ITEMS, key=lambda it: it[0].encode())  # sorted: ICU searches the names
    assert [n for n, _ in items] == [n for n, _ in want]
    for (_n, got), (_m, data) in zip(items, want):  # each item as written, then zeros to the next 16 bytes
        assert got[:len(data)] == data and set(got[len(data):]) <= {0} and len(got) - len(data) < 16
    toc = len(header)
    count = struct.unpack_from("<I", blob, toc)[0]
    offsets = [struct.unpack_from("<II", blob, toc + 4 + 8 * i)[1] for i in range(count)]
    assert all((toc + off) % 16 == 0 for off in offsets)  # items aligned as icupkg aligns them
    with pytest.raises(icudata.IcuDataError):
        icudata.read_package(b"\x20\0\0\0" + blob[4:])


@pytest.mark.parametrize("name, kept", [
    ("root.res", True), ("en.res", True), ("en_GB.res", True), ("de.res", False), ("pool.res", True),
    ("supplementalData.res", True), ("zoneinfo64.res", True), ("metaZones.res", True), ("cnvalias.icu", True),
    ("ibm-943_P15A-2003.cnv", False), ("unames.icu", False), ("confusables.cfu", False),
    ("coll/ucadata.icu", True), ("coll/sv.res", True), ("coll/zh.res", True),
    ("zone/en.res", True), ("zone/root.res", True), ("zone/de.res", False),
    ("brkitr/cjdict.dict", False), ("unit/de.res", False), ("curr/en.res", False), ("translit/root.res", False),
])
def test_what_of_icu_stays(icudata, name, kept):
    assert icudata.keep_item(name) is kept


def test_qt_calls_outside_the_known_services_keep_icu_whole(icudata):
    assert icudata.unexpected_calls({"ucol_open", "u_strToUpper", "ucal_open", "ucnv_open", "UCNV_TO_U_CALLBACK_SUBSTITUTE"}) == []
    assert icudata.unexpected_calls({"ucol_open", "ubrk_open", "unum_format"}) == ["ubrk_open", "unum_format"]


needs_binutils = pytest.mark.skipif(not (shutil.which("as") and shutil.which("ld")) and not shutil.which("cc"),
                                    reason="no assembler/linker (binutils) to build a library")


@needs_binutils
def test_the_trimmed_library_holds_only_the_kept_items(icudata, tmp_path):
    source = icudata.assemble(icudata.write_package(_header(), ITEMS), "icudt73_dat", "libicudata.so.73",
                              tmp_path / "in", "libicudata.so.73")
    out, before, after = icudata.build_library(source, tmp_path / "out")
    assert out.name == "libicudata.so.73" and after < before
    blob = out.read_bytes()
    _sym, off, size = icudata._elf_symbol(blob, __import__("re").compile("icudt73_dat"))
    _header_again, items = icudata.read_package(blob[off:off + size])
    assert [n for n, _ in items] == sorted(["icudt73l/root.res", "icudt73l/en_GB.res", "icudt73l/coll/ucadata.icu",
                                            "icudt73l/coll/sv.res", "icudt73l/cnvalias.icu", "icudt73l/zone/en.res",
                                            "icudt73l/zoneinfo64.res"])
    assert dict(items)["icudt73l/coll/ucadata.icu"].rstrip(b"\0") == b"U" * 33
    assert b"libicudata.so.73\0" in blob  # same soname: Qt's libicuuc finds it


@needs_binutils
def test_a_package_without_the_root_locale_is_refused(icudata, tmp_path):
    lib = icudata.assemble(icudata.write_package(_header(), ITEMS[1:]), "icudt73_dat", "libicudata.so.73",
                           tmp_path / "in", "libicudata.so.73")
    with pytest.raises(icudata.IcuDataError, match="root"):
        icudata.build_library(lib, tmp_path / "out")


def test_the_toc_step_keeps_icu_when_it_cannot_build(icudata, tmp_path, monkeypatch):
    toc = [("PySide6/Qt/lib/libicudata.so.73", str(tmp_path / "missing.so"), "BINARY"),
           ("PySide6/Qt/lib/libQt6Core.so.6", str(tmp_path / "core.so"), "BINARY")]
    monkeypatch.setattr(icudata, "qt_icu_calls", lambda libs, major: {"ucol_open"})
    out, note = icudata.trim_in_toc(toc, tmp_path / "icu")
    assert out == toc and note.startswith("ICU data kept whole")
    monkeypatch.setattr(icudata, "qt_icu_calls", lambda libs, major: {"ucol_open", "ubrk_open"})
    out, note = icudata.trim_in_toc(toc, tmp_path / "icu")
    assert out == toc and "ubrk_open" in note


def test_one_openssl_when_psycopgs_has_every_symbol_python_uses(syslibs):
    toc = [("libcrypto.so.3", "/sys/libcrypto.so.3", "BINARY"), ("libssl.so.3", "/sys/libssl.so.3", "BINARY"),
           ("psycopg_binary.libs/libcrypto-3a0647ea.so.3", "/v/crypto", "BINARY"),
           ("psycopg_binary.libs/libssl-6a9b88ec.so.3", "/v/ssl", "BINARY"),
           ("python3.11/lib-dynload/_hashlib.so", "/py/_hashlib", "EXTENSION"),
           ("python3.11/lib-dynload/_ssl.so", "/py/_ssl", "EXTENSION")]
    defined = {"/v/crypto": {"EVP_DigestInit@OPENSSL_3.0.0"}, "/v/ssl": {"SSL_new@OPENSSL_3.0.0"}}
    needed = {"/py/_hashlib": {"EVP_DigestInit@OPENSSL_3.0.0", "free@GLIBC_2.2.5"}, "/py/_ssl": {"SSL_new@OPENSSL_3.0.0"}}

    def symbols(path, want_defined):
        return defined.get(path, set()) if want_defined else needed.get(path, set())

    out, linked = syslibs.share_openssl(toc, symbols)
    assert linked == ["libcrypto.so.3", "libssl.so.3"]
    assert out[0] == ("libcrypto.so.3", "psycopg_binary.libs/libcrypto-3a0647ea.so.3", "SYMLINK")
    assert out[1] == ("libssl.so.3", "psycopg_binary.libs/libssl-6a9b88ec.so.3", "SYMLINK")
    assert out[2:] == toc[2:]
    needed["/py/_ssl"].add("EC_GFp_nistp256_method@OPENSSL_3.0.0")  # only the system one has it: two copies
    assert syslibs.share_openssl(toc, symbols) == (toc, [])
    assert syslibs.share_openssl(toc, lambda p, d: None) == (toc, [])  # no nm: unchanged


@pytest.mark.parametrize("dest, kept", [
    ("numpy-2.4.6.dist-info/METADATA", True), ("pydicom-3.0.2.dist-info/entry_points.txt", True),
    ("numpy-2.4.6.dist-info/RECORD", False), ("platformdirs-4.14.9.dist-info/sboms/platformdirs.cdx.json", False),
    ("numpy-2.4.6.dist-info/licenses/LICENSE.txt", False), ("pylibjpeg_libjpeg-2.5.0.dist-info/LICENSE", False),
    ("pydicom/data/urls.json", True),
    ("PySide6/Qt/translations/qtbase_de.qm", False),
])
def test_files_the_app_never_reads_stay_out(buildinfo, dest, kept):
    assert buildinfo.keep_file(dest) is kept


def test_metadata_keeps_its_header_only(buildinfo, tmp_path):
    src = tmp_path / "METADATA"
    src.write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.0\nRequires-Dist: y\n\n# X\n\nlong README\n" * 1)
    other = tmp_path / "entry_points.txt"
    other.write_text("[a]\nb = c\n\n[d]\n")
    datas = [("x-1.0.dist-info/METADATA", str(src), "DATA"), ("x-1.0.dist-info/entry_points.txt", str(other), "DATA")]
    out, saved = buildinfo.slim_metadata(datas, tmp_path / "out")
    assert saved == len("\n# X\n\nlong README\n") and out[1] == datas[1]
    assert Path(out[0][1]).read_text() == "Metadata-Version: 2.1\nName: x\nVersion: 1.0\nRequires-Dist: y\n"
    from email.parser import Parser

    assert Parser().parsestr(Path(out[0][1]).read_text())["Version"] == "1.0"


def test_the_system_dbus_goes_with_what_only_it_needed(syslibs):
    needed = {"/s/dbus": ["libsystemd.so.0", "libc.so.6"], "/s/systemd": ["libgcrypt.so.20", "libzstd.so.1", "liblzma.so.5"],
              "/s/gcrypt": ["libgpg-error.so.0"], "/s/gpg": [], "/s/zstd": [], "/s/lzma": [],
              "/s/qtdbus": ["libdbus-1.so.3", "libQt6Core.so.6"], "/s/qtcore": ["libzstd.so.1"], "/s/lzmamod": ["liblzma.so.5"]}
    toc = [("libdbus-1.so.3", "/s/dbus", "BINARY"), ("libsystemd.so.0", "/s/systemd", "BINARY"),
           ("libgcrypt.so.20", "/s/gcrypt", "BINARY"), ("libgpg-error.so.0", "/s/gpg", "BINARY"),
           ("libzstd.so.1", "/s/zstd", "BINARY"), ("liblzma.so.5", "/s/lzma", "BINARY"),
           ("PySide6/Qt/lib/libQt6DBus.so.6", "/s/qtdbus", "BINARY"), ("PySide6/Qt/lib/libQt6Core.so.6", "/s/qtcore", "BINARY"),
           ("python3.11/lib-dynload/_lzma.so", "/s/lzmamod", "EXTENSION"), ("libdbus-1.so", "libdbus-1.so.3", "SYMLINK")]
    out, removed = syslibs.drop_system_provided(toc, needed.get)
    assert removed == ["libdbus-1.so.3", "libgcrypt.so.20", "libgpg-error.so.0", "libsystemd.so.0"]
    assert [d for d, *_ in out] == ["libzstd.so.1", "liblzma.so.5", "PySide6/Qt/lib/libQt6DBus.so.6",
                                    "PySide6/Qt/lib/libQt6Core.so.6", "python3.11/lib-dynload/_lzma.so"]
    unreadable = dict(needed, **{"/s/qtcore": None})  # a kept file whose needs cannot be read: only D-Bus goes
    assert syslibs.drop_system_provided(toc, unreadable.get)[1] == ["libdbus-1.so.3"]
    assert syslibs.drop_system_provided(toc[1:6], needed.get) == (toc[1:6], [])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files on Linux only")
def test_direct_dependencies_read_from_the_elf_file(syslibs, tmp_path):
    import _ctypes

    assert any(n.startswith("libc.so") for n in syslibs.elf_needed(_ctypes.__file__) or [])
    (tmp_path / "x.so").write_bytes(b"not an ELF file")
    assert syslibs.elf_needed(str(tmp_path / "x.so")) is None
