"""Screenshots of the several-readers screens (a script, not a test; pytest does not collect it).

    .venv/bin/python tests/desktop/screenshots_readers.py [--out DIR]

In a throwaway app home, with the synthetic test model and generated images: the reader dialog, the
main window in blinded reading, an adjudicator's window on a disputed image (each reader's label in
the info line), the agreement page — each at 1366×768 and 1920×1080 (dialogs at their own size) —
and Settings › Database with its Password… (OS keyring) dialog, with and without a keyring.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from tests.desktop.screenshots import SIZES, settle, wait  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "fracture-triage-screenshots-readers"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="ft-shots-readers-"))
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)

    from PySide6.QtWidgets import QApplication

    from core.model import load_model
    from core.settings import Settings
    from core.store import open_store
    from desktop import theme
    from desktop.main_window import MainWindow
    from tests.desktop.conftest import make_image_folder
    from tests.model_factory import write_model

    app = QApplication.instance() or QApplication(["screenshots"])
    theme.apply_theme(app)
    model = load_model(write_model(home / "test-model"))
    folder = make_image_folder(home / "xrays", n=8)
    store = open_store(None, backups_keep=0)
    store.set_reader("Dr K", "adjudicator")
    store.set_double_reading(True)

    def window(reader: str, mode: str = "aided") -> MainWindow:
        w = MainWindow(store=store, model=model, settings=Settings(reviewer=reader, reading_mode=mode), reviewer=reader,
                       settings_path=home / f"settings-{reader}.json")
        w.resize(*SIZES[0])
        w.show()
        done = []
        w.scan_done.connect(done.append)
        w.open_folder(folder)
        wait(app, lambda: bool(done))
        wait(app, lambda: w.review.viewer.image is not None and w.review.viewer.image.qimage is not None, 30)
        return w

    def shots(w, name: str) -> None:
        for size in SIZES:
            w.resize(*size)
            settle(app, 400)
            w.review.viewer.fit()
            settle(app, 100)
            w.grab().save(str(out / f"{name}_{size[0]}x{size[1]}.png"))

    a = window("Dr A")
    dlg = a.open_reader_dialog()
    wait(app, lambda: dlg.name.count() > 0, 10)
    settle(app, 200)
    dlg.grab().save(str(out / "reader_dialog.png"))
    dlg.reject()
    for key in ("fracture", "no_fracture", "fracture"):  # Dr A reads three images
        a.session.perform(key)
        wait(app, lambda: not a.session.busy)
    a.close()

    b = window("Dr B", "blinded")
    shots(b, "blinded")
    for key in ("no_fracture",) * 5 + ("fracture", "doubt", "fracture"):  # Dr B reads all eight
        b.session.perform(key)
        wait(app, lambda: not b.session.busy)
    b.close()

    k = window("Dr K")
    settle(app, 300)  # the adjudicator's "To review" list: the images Dr A and Dr B disagree on
    shots(k, "adjudicator")
    page = k.open_agreement()
    wait(app, lambda: page.report is not None, 60)
    for size in SIZES:
        page.resize(int(size[0] * 0.66), int(size[1] * 0.8))
        settle(app, 200)
        page.grab().save(str(out / f"agreement_{size[0]}x{size[1]}.png"))
    keyring_shots(app, k, out)
    k.close()
    store.close()
    print(f"screenshots in {out}")
    return 0


def keyring_shots(app, w, out: Path) -> None:  # noqa: ANN001
    """Settings › Database with a PostgreSQL address, and its Password… dialog with a keyring (an
    in-memory stand-in backend, password typed) and without one (``fail.Keyring``)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        print("keyring not installed: no password-dialog screenshots")
        return
    from desktop.dialogs.settings import SettingsDialog
    from tests.core.store.test_passwords import MemoryKeyring

    old = keyring.get_keyring()
    try:
        for name, backend in (("password_dialog", MemoryKeyring()), ("password_dialog_no_keyring", fail.Keyring())):
            keyring.set_keyring(backend)
            dlg = SettingsDialog(w.settings, w, tasks=w.tasks)
            dlg.database.setText("postgresql://reader@db.clinic.example/labels?sslmode=verify-full")
            dlg.show()
            settle(app, 200)
            if name == "password_dialog":
                dlg.grab().save(str(out / "settings_database.png"))
            pw = dlg.open_password()
            wait(app, lambda: "Looking" not in pw.keyring_state.text(), 10)
            if pw.password.isEnabled():
                pw.password.setText("not-a-real-one")
            settle(app, 200)
            pw.grab().save(str(out / f"{name}.png"))
            if pw.password.isEnabled():
                done = []
                pw.done_with.connect(done.append)
                pw.save()
                wait(app, lambda: bool(done), 10)
                settle(app, 100)
                pw.grab().save(str(out / f"{name}_saved.png"))
            pw.close()
            dlg.close()
    finally:
        keyring.set_keyring(old)


if __name__ == "__main__":
    sys.exit(main())
