"""Which shared libraries the Linux bundle carries beyond PyInstaller's choice (issue 15: bundle size).

**The system's D-Bus client** (``SYSTEM_PROVIDED``): every Linux desktop has ``libdbus-1.so.3`` (Qt's
xcb and Wayland platforms talk to the session bus through it), so it is taken from the system like
libxcb and the GL stack. The build machine's copy would bring systemd's libraries with it
(libsystemd, libgcrypt, libgpg-error, liblz4, libcap: 2.8 MiB); ``drop_system_provided`` removes it
and every library only it needs, following each library's own ``DT_NEEDED`` entries (PyInstaller's
``get_imports`` lists dependencies transitively, which cannot tell "needed by" from "needed through").
``linux/install.sh --check`` names the package when a system lacks it.

**One OpenSSL, not two**: psycopg's binary wheel vendors OpenSSL 3 (``psycopg_binary.libs/libcrypto-*.so.3``, ``libssl-*.so.3``)
for libpq, and Python's ``_ssl`` and ``_hashlib`` bring the build machine's ``libcrypto.so.3`` and
``libssl.so.3`` (5.3 MiB). The latter become links to the vendored ones — glibc loads a file once,
whichever name it is asked for — when the vendored libraries define every OpenSSL symbol (name and
version) that any other bundled binary imports; otherwise both copies stay.

Build-time only, like ``buildinfo``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import struct
from pathlib import Path

SYSTEM_PROVIDED = ("libdbus-1.so.3",)


def elf_needed(path: str) -> list[str] | None:
    """The ``DT_NEEDED`` entries of an ELF64 little-endian file (its direct dependencies), None when
    it is not one."""
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", blob, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * shentsize) for i in range(shnum)]
    for _name, typ, _flags, _addr, off, size, link, _info, _align, _entsize in sections:
        if typ != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link][4]
        out = []
        for k in range(size // 16):
            tag, val = struct.unpack_from("<qQ", blob, off + 16 * k)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                out.append(blob[strtab + val:blob.index(b"\0", strtab + val)].decode("utf-8", "replace"))
        return out
    return []


def drop_system_provided(binaries: list, needed=elf_needed, provided=SYSTEM_PROVIDED) -> tuple[list, list[str]]:
    """Remove the ``provided`` libraries and the bundled libraries only they need (by ``needed(src)``:
    direct dependencies; None for a file it cannot read — then only the provided ones go).
    Returns the new TOC and the removed destinations."""
    real = {Path(d).as_posix(): s for d, s, t in binaries if t != "SYMLINK"}
    by_name: dict[str, str] = {}
    for dest in real:
        by_name.setdefault(Path(dest).name, dest)
    dropped = {d for d in real if Path(d).name in provided}
    if not dropped:
        return binaries, []
    edges: dict[str, set[str]] = {}
    unknown = set()
    for dest, src in real.items():
        names = needed(src)
        if names is None:
            unknown.add(dest)
            names = []
        edges[dest] = {by_name[n] for n in names if n in by_name}

    def closure(start: set[str]) -> set[str]:
        seen, todo = set(start), list(start)
        while todo:
            for d in edges.get(todo.pop(), ()):
                if d not in seen and d not in dropped:
                    seen.add(d)
                    todo.append(d)
        return seen

    from_dropped = set()
    for d in dropped:
        from_dropped |= {x for dep in edges[d] if dep not in dropped for x in closure({dep})}
    kept = closure(set(real) - dropped - from_dropped)
    removed = dropped | (from_dropped - kept)
    if unknown - removed:  # a kept file whose needs cannot be read may need any of them: only the provided go
        removed = set(dropped)
    out = [e for e in binaries if Path(e[0]).as_posix() not in removed
           and not (e[2] == "SYMLINK" and Path(e[1]).as_posix() in removed)]
    return out, sorted(removed)


def share_openssl(binaries: list, symbols) -> tuple[list, list[str]]:
    """Python's system OpenSSL turned into links to psycopg's (see the module docstring).
    ``symbols(path, defined) -> set of "name@version"`` (``dynamic_symbols``), None when it cannot
    tell: then nothing changes.

    Returns the new TOC and the destinations turned into links.
    """
    by_dest = {Path(d).as_posix(): (d, s, t) for d, s, t in binaries}
    vendored = {}
    for dest in by_dest:
        m = re.fullmatch(r"psycopg_binary\.libs/(libcrypto|libssl)-[0-9a-f]+\.so\.3", dest)
        if m:
            vendored[m.group(1)] = dest
    system = {f"{lib}.so.3" for lib in ("libcrypto", "libssl")
              if f"{lib}.so.3" in by_dest and by_dest[f"{lib}.so.3"][2] != "SYMLINK"}
    if set(vendored) != {"libcrypto", "libssl"} or not system:
        return binaries, []
    have: set[str] = set()
    for dest in vendored.values():
        found = symbols(by_dest[dest][1], True)
        if found is None:
            return binaries, []
        have |= found
    want: set[str] = set()
    for dest, (_d, src, typecode) in by_dest.items():
        if typecode in ("BINARY", "EXTENSION") and dest not in system and dest not in vendored.values():
            found = symbols(src, False)
            if found is None:
                return binaries, []
            want |= {sym for sym in found if "@OPENSSL_" in sym}
    if not want <= have:
        return binaries, []
    out = []
    for d, s, t in binaries:
        name = Path(d).as_posix()
        out.append((d, vendored[name.split(".")[0]], "SYMLINK") if name in system else (d, s, t))
    return out, sorted(system)


def dynamic_symbols(path: str, defined: bool):
    """The versioned dynamic symbols a binary defines (or imports), ``nm -D``; None without ``nm``."""
    nm = shutil.which("nm")
    if not nm:
        return None
    done = subprocess.run([nm, "-D", "--defined-only" if defined else "--undefined-only", path],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return set()  # not an ELF file: it imports nothing
    return {ln.split()[-1].replace("@@", "@") for ln in done.stdout.splitlines() if "@" in ln}
