"""The ICU data library of the bundle, cut to what Qt uses (issue 15: bundle size).

PySide6's Qt links ICU, whose data library (``libicudata.so.NN``, 31 MiB) holds every locale's
formats, names, units, currencies, break dictionaries, transliterators and 200 legacy code pages.
Qt itself calls only four ICU services (``nm -D --undefined-only`` on the Qt libraries: the ``u_``,
``ucol_``, ``ucal_`` and ``ucnv_`` functions, checked by ``qt_icu_calls``):

* case mapping (``u_strToUpper``/``u_strToLower``): the tables are compiled into ``libicuuc``;
* collation (``ucol_*``, e.g. the sort order of names in Qt's file dialog): ``coll/`` — kept whole;
* time zones (``ucal_*``: canonical ids, display names): the zone rules and metazone tables, and the
  English (and root) zone names — other languages get the English names (checked with Qt:
  ``QTimeZone("Europe/Berlin").displayName(..., QLocale("de_DE"))`` gives "Central European Standard
  Time" instead of "Mitteleuropäische Normalzeit"; collation and case mapping gave identical results
  in en, de, sv, fr, ja and tr);
* code pages (``ucnv_*``): only for encodings Qt does not implement itself (it has UTF-8/16/32 and
  Latin-1); the app reads no text through Qt's codecs, so only the alias table is kept.

Everything else (other locales' top-level data, ``brkitr/``, ``curr/``, ``lang/``, ``region/``,
``unit/``, ``translit/``, ``rbnf/``, the ``.cnv`` code pages, character names, confusables) is
reachable only through ICU functions Qt never calls. The kept items are written as a new ICU
"common data" package (the format ``icupkg`` reads: a header, a sorted table of contents, items
aligned to 16 bytes) into a library with the same soname and data symbol, assembled with ``as`` and
``ld`` (or ``cc``). Without those tools the original library is kept and the build says so.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

# top-level items kept (besides the root and English locales): what collation and time zones read
_TOP_KEEP = {"res_index.res", "pool.res", "root.res", "supplementalData.res", "likelySubtags.res", "langInfo.res",
             "zoneinfo64.res", "metaZones.res", "timezoneTypes.res", "windowsZones.res", "keyTypeData.res",
             "cnvalias.icu", "nfkc.nrm", "nfkc_cf.nrm", "uts46.nrm", "ulayout.icu", "pnames.icu", "uprops.icu",
             "ucase.icu", "ubidi.icu", "unorm.icu"}
_ENGLISH = re.compile(r"^(en|en_[A-Za-z0-9_]+)\.res$")
_ZONE_KEEP = re.compile(r"^(root|pool|res_index|en|en_[A-Za-z0-9_]+)\.res$")

# the ICU functions Qt may call (prefixes); any other ICU call in a Qt library fails the trimming
QT_ICU_SERVICES = ("u_strToUpper", "u_strToLower", "ucol_", "ucal_", "ucnv_", "UCNV_")


class IcuDataError(Exception):
    """The library is not an ICU data library this module understands (nothing is changed)."""


def keep_item(name: str) -> bool:
    """Whether the package item ``name`` (without the ``icudtNNl/`` prefix) stays in the bundle."""
    tree, _, leaf = name.rpartition("/")
    if tree == "":
        return leaf in _TOP_KEEP or bool(_ENGLISH.match(leaf))
    if tree == "coll":
        return True
    if tree == "zone":
        return bool(_ZONE_KEEP.match(leaf))
    return False


def _elf_symbol(blob: bytes, pattern: re.Pattern) -> tuple[str, int, int]:
    """(name, file offset, size) of the first dynamic symbol whose name matches ``pattern`` (ELF64 LE)."""
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        raise IcuDataError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", blob, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * shentsize) for i in range(shnum)]
    for _name, typ, _flags, _addr, off, size, link, _info, _align, entsize in sections:
        if typ != 11:  # SHT_DYNSYM
            continue
        stroff = sections[link][4]
        for k in range(size // entsize):
            st_name, _st_info, _other, _shndx, value, st_size = struct.unpack_from("<IBBHQQ", blob, off + k * entsize)
            sym = blob[stroff + st_name:blob.index(b"\0", stroff + st_name)].decode("ascii", "replace")
            if pattern.fullmatch(sym):
                for _n, _t, _f, addr, soff, ssize, *_ in sections:
                    if addr <= value < addr + ssize and _t != 8:  # not NOBITS
                        return sym, soff + value - addr, st_size
        break
    raise IcuDataError("no icudtNN_dat symbol")


def read_package(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Split an ICU common data package into its header and (name, bytes) items."""
    header_size, = struct.unpack_from("<H", data, 0)
    if data[2:4] != b"\xda\x27" or data[12:16] != b"CmnD":
        raise IcuDataError("not an ICU common data package")
    if data[8] != 0:  # isBigEndian
        raise IcuDataError("big-endian ICU data")
    toc = header_size
    count, = struct.unpack_from("<I", data, toc)
    entries = [struct.unpack_from("<II", data, toc + 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_off, data_off) in enumerate(entries):
        end = toc + entries[i + 1][1] if i + 1 < count else len(data)
        name = data[toc + name_off:data.index(b"\0", toc + name_off)].decode("ascii")
        items.append((name, data[toc + data_off:end]))
    return data[:header_size], items


def write_package(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    """An ICU common data package of ``items`` (names sorted, as ICU's binary search needs)."""
    items = sorted(items, key=lambda it: it[0].encode("ascii"))
    names = b"".join(n.encode("ascii") + b"\0" for n, _ in items)
    toc_len = 4 + 8 * len(items)
    pos = toc_len + len(names)
    pos += -pos % 16
    out_names, out_data, name_pos = [], bytearray(), toc_len
    offsets = []
    for name, blob in items:
        offsets.append((name_pos, pos + len(out_data)))
        name_pos += len(name) + 1
        out_data += blob
        out_data += b"\0" * (-len(out_data) % 16)
        out_names.append(name)
    toc = struct.pack("<I", len(items)) + b"".join(struct.pack("<II", n, d) for n, d in offsets)
    body = toc + names
    body += b"\0" * (-len(body) % 16)
    return header + body + bytes(out_data)


def trimmed_package(library: Path) -> tuple[str, bytes, int, int]:
    """(data symbol, new package, bytes before, bytes after) for the ICU data library ``library``."""
    blob = library.read_bytes()
    symbol, offset, size = _elf_symbol(blob, re.compile(r"icudt\d+_dat"))
    header, items = read_package(blob[offset:offset + size])
    prefix = symbol[:-len("_dat")] + "l/"
    if not all(n.startswith(prefix) for n, _ in items):
        raise IcuDataError(f"item names do not start with {prefix}")
    kept = [(n, b) for n, b in items if keep_item(n[len(prefix):])]
    if not any(n.endswith("/coll/ucadata.icu") for n, _ in kept) or not any(n.endswith("/root.res") for n, _ in kept):
        raise IcuDataError("the root locale or the collation data is missing")
    package = write_package(header, kept)
    return symbol, package, size, len(package)


def _soname(blob: bytes) -> str:
    m = re.search(rb"(libicudata\.so\.\d+)\0", blob)
    if not m:
        raise IcuDataError("no libicudata soname")
    return m.group(1).decode()


def assemble(package: bytes, symbol: str, soname: str, out_dir: Path, name: str) -> Path:
    """A shared library ``out_dir/name`` (soname ``soname``) whose one symbol ``symbol`` is ``package``,
    built with ``as`` + ``ld`` (or ``cc``). Raises ``IcuDataError`` without them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dat = out_dir / f"{symbol}.dat"
    dat.write_bytes(package)
    asm = out_dir / f"{symbol}.s"
    asm.write_text(
        '\t.section .rodata\n\t.balign 16\n'
        f'\t.globl {symbol}\n\t.type {symbol}, @object\n{symbol}:\n\t.incbin "{dat.name}"\n'
        f'\t.size {symbol}, . - {symbol}\n\t.section .note.GNU-stack,"",@progbits\n',
        encoding="ascii",
    )
    cc, as_, ld = shutil.which("cc") or shutil.which("gcc"), shutil.which("as"), shutil.which("ld")
    if as_ and ld:
        cmds = [[as_, "-o", f"{symbol}.o", asm.name],
                [ld, "-shared", "-z", "noexecstack", "-soname", soname, "-o", name, f"{symbol}.o"]]
    elif cc:
        cmds = [[cc, "-shared", "-nostdlib", f"-Wl,-soname,{soname}", "-o", name, asm.name]]
    else:
        raise IcuDataError("no assembler and linker (binutils) to build it")
    for cmd in cmds:
        done = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True)
        if done.returncode != 0:
            raise IcuDataError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[:300]}")
    out = out_dir / name
    blob = out.read_bytes()
    _sym, off, size = _elf_symbol(blob, re.compile(re.escape(symbol)))
    if blob[off:off + size] != package:
        raise IcuDataError("the built library does not hold the package it was given")
    return out


def build_library(library: Path, out_dir: Path) -> tuple[Path, int, int]:
    """Write the trimmed library into ``out_dir`` (same file name and soname); returns (path, bytes of
    ICU data before, after). Raises ``IcuDataError`` when it cannot (tools missing, unknown layout)."""
    symbol, package, before, after = trimmed_package(library)
    out = assemble(package, symbol, _soname(library.read_bytes()), out_dir, library.name)
    return out, before, after


def qt_icu_calls(qt_libraries, major: str) -> set[str]:  # noqa: ANN001
    """The ICU functions (``name_<major>``, without the suffix) the given Qt libraries import
    (``nm -D --undefined-only``); None when ``nm`` is missing."""
    nm = shutil.which("nm")
    if not nm:
        return None
    found: set[str] = set()
    suffix = re.compile(r"([A-Za-z][A-Za-z0-9_]*)_" + re.escape(major))
    for lib in qt_libraries:
        done = subprocess.run([nm, "-D", "--undefined-only", str(lib)], capture_output=True, text=True)
        for line in done.stdout.splitlines():
            m = suffix.fullmatch(line.split()[-1]) if line.split() else None
            if m:
                found.add(m.group(1))
    return found


def unexpected_calls(calls: set[str]) -> list[str]:
    """ICU functions outside ``QT_ICU_SERVICES`` (a newer Qt calling more of ICU: keep everything)."""
    return sorted(c for c in calls if not c.startswith(QT_ICU_SERVICES))


def trim_in_toc(binaries: list, out_dir: Path) -> tuple[list, str]:
    """The spec's step: the bundle's ``libicudata.so.NN`` replaced by the trimmed one built in
    ``out_dir``. Returns the new TOC and one line for the build log (what was done, or why not)."""
    lib = re.compile(r"(?:.*/)?libicudata\.so\.(\d+)")
    entry = next(((d, s, t) for d, s, t in binaries if t != "SYMLINK" and lib.fullmatch(Path(d).as_posix())), None)
    if entry is None:
        return binaries, "no ICU data library in the bundle"
    major = lib.fullmatch(Path(entry[0]).as_posix()).group(1)
    qt = [s for d, s, t in binaries
          if t != "SYMLINK" and "PySide6" in Path(d).parts and not Path(d).name.startswith("libicu")]
    calls = qt_icu_calls(qt, major)
    if calls is None:
        return binaries, "ICU data kept whole: no nm to check which ICU functions Qt calls"
    extra = unexpected_calls(calls)
    if extra:
        return binaries, "ICU data kept whole: Qt calls more of ICU than collation, time zones, code pages: " + ", ".join(extra[:8])
    try:
        built, before, after = build_library(Path(entry[1]), out_dir)
    except (IcuDataError, OSError) as exc:
        return binaries, f"ICU data kept whole: {exc}"
    out = [(d, str(built), t) if (d, s, t) == entry else (d, s, t) for d, s, t in binaries]
    return out, f"ICU data cut to what Qt uses: {before / 2**20:.1f} -> {after / 2**20:.1f} MiB"
