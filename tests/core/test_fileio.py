"""core.fileio: the target is replaced only when the write succeeds, and no temporary file is left."""

import pytest

from core.fileio import atomic_write, atomic_write_bytes


def test_text_write_replaces_the_file(tmp_path):
    p = tmp_path / "sub" / "settings.json"
    with atomic_write(p) as fh:
        fh.write("ünï\n")
    assert p.read_text(encoding="utf-8") == "ünï\n"
    assert [q.name for q in p.parent.iterdir()] == ["settings.json"]


@pytest.mark.parametrize("writer", ["text", "bytes"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, writer):
    import core.fileio

    p = tmp_path / "report.csv"
    p.write_text("old")

    def full(_fd):
        raise OSError("disk full")

    if writer == "bytes":
        monkeypatch.setattr(core.fileio.os, "fsync", full)  # the data reached the temporary, syncing it failed
    with pytest.raises(OSError, match="disk full"):
        if writer == "text":
            with atomic_write(p) as fh:
                fh.write("new, half")
                raise OSError("disk full")
        else:
            atomic_write_bytes(p, b"new")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["report.csv"]


@pytest.mark.parametrize("durable", [True, False])
def test_bytes_write(tmp_path, durable):
    p = tmp_path / "thumb.png"
    atomic_write_bytes(p, b"\x89PNG", durable=durable)
    atomic_write_bytes(p, b"\x89PNG2", durable=durable)
    assert p.read_bytes() == b"\x89PNG2"
    assert [q.name for q in tmp_path.iterdir()] == ["thumb.png"]
