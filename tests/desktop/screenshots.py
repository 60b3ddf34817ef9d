"""Screenshots of the main window for review (a script, not a test; pytest does not collect it).

    .venv/bin/python tests/desktop/screenshots.py [--data ../shared/data/fracatlas/images] [--out screenshots]
                                                  [--limit N] [--model PATH]

Opens the folder (copying the first N images to a temporary folder when --limit is given), waits for
the scan, and saves, at 1366×768 and 1920×1080: the main window on the top image, the same with the
heatmap on, the shortcut help and the empty state (and the Errors list at 1920×1080). It also measures the
time from a key press to the next image painted (navigation with prefetch, and decisions including
the durable database write) and the longest GUI-thread stall during the scan, and prints them. Everything runs offscreen in a throwaway app home.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SIZES = ((1366, 768), (1920, 1080))


def wait(app, cond, timeout=120.0) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.005)
    return False


def settle(app, ms: int = 300) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fracatlas" / "images"))
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "fracture-triage-screenshots"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (copied to a temp folder)")
    ap.add_argument("--model", default="", help="model .onnx (default: the installed one, else the test model)")
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"no data folder at {data}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="ft-shots-"))
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)
    if args.limit:
        folder = home / "xrays"
        folder.mkdir()
        for p in sorted(data.iterdir())[: args.limit]:
            shutil.copy2(p, folder / p.name)
    else:
        folder = data

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QTabWidget

    from core.model import ModelError, load_model
    from core.settings import Settings
    from core.store import open_store
    from core.worklist import FILTERS
    from desktop import theme
    from desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication(["screenshots"])
    theme.apply_theme(app)
    try:
        model = load_model(Path(args.model) if args.model else None)
        note = f"model {model.name} {model.version}"
    except ModelError as exc:
        from tests.model_factory import write_model

        model = load_model(write_model(home / "test-model"))
        note = f"no installed model ({exc}); using the synthetic TEST model — probabilities are meaningless"
    print(note)
    store = open_store(None, backups_keep=0)
    settings = Settings(reviewer="Dr Screenshot")

    empty = MainWindow(store=store, model=model, settings=settings, reviewer="Dr Screenshot")
    for w_, h_ in SIZES:
        empty.resize(w_, h_)
        empty.show()
        settle(app, 150)
        empty.grab().save(str(out / f"empty_{w_}x{h_}.png"))
    empty.close()
    empty.deleteLater()

    settings = Settings(reviewer="Dr Screenshot")
    w = MainWindow(store=store, model=model, settings=settings, reviewer="Dr Screenshot")
    w.resize(*SIZES[0])
    w.show()
    w.activateWindow()
    done = []
    w.scan_done.connect(done.append)
    from PySide6.QtCore import QTimer

    beats = [time.perf_counter()]
    gaps = [0.0, 0.0]  # longest gap, when it ended (s after opening)

    def beat():
        now = time.perf_counter()
        if now - beats[0] > gaps[0]:
            gaps[0], gaps[1] = now - beats[0], now - t0
        beats[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    t0 = time.perf_counter()
    w.open_folder(folder)
    first = wait(app, lambda: w.worklist.model.rowCount() > 0, 60)
    print(f"first result in the table after {time.perf_counter() - t0:.2f} s" if first else "no result after 60 s")
    if not wait(app, lambda: bool(done), 1800):
        print("scan did not finish in time", file=sys.stderr)
        return 1
    heartbeat.stop()
    s = done[0]
    print(f"scan: {s.scored} scored, {s.reused} reused, {s.failed} errors in {s.elapsed_s:.1f} s; "
          f"longest GUI-thread stall during the scan: {gaps[0] * 1000:.0f} ms (ending {gaps[1]:.2f} s after opening)")
    wait(app, lambda: w.review.viewer.image is not None and w.review.viewer.image.qimage is not None, 30)

    # key → image latency (prefetched navigation, then decisions incl. the durable write)
    nav, dec, writes = [], [], []
    v = w.review.viewer
    for key, bucket in [(Qt.Key.Key_J, nav)] * 6 + [(Qt.Key.Key_K, nav)] * 2 + [(Qt.Key.Key_N, dec)] * 3 + \
                       [(Qt.Key.Key_Backspace, dec)] * 3:
        wait(app, lambda: w.tasks.pending == 0, 10)
        n = len(w.latencies)
        QTest.keyClick(v, key)
        wait(app, lambda: len(w.latencies) > n, 10)
        if len(w.latencies) > n:
            bucket.append(w.latencies[-1])
            if bucket is dec:
                writes.append(w.session.last_write_ms)
    print(f"key → image shown (ms): navigation median {statistics.median(nav):.1f} (max {max(nav):.1f}, n={len(nav)}); "
          f"decision/undo incl. durable write median {statistics.median(dec):.1f} (max {max(dec):.1f}, n={len(dec)}), "
          f"of which the database write (fsync) median {statistics.median(writes):.1f}")
    QTest.keyClick(v, Qt.Key.Key_Home)
    w.session.triage.go_to(0)
    w.session._check_current()
    wait(app, lambda: w.tasks.pending == 0, 10)

    for w_, h_ in SIZES:
        w.resize(w_, h_)
        settle(app, 400)
        w.review.viewer.fit()
        settle(app, 100)
        w.grab().save(str(out / f"main_{w_}x{h_}.png"))
        w.on_action("heatmap")
        settle(app, 200)
        w.grab().save(str(out / f"heatmap_{w_}x{h_}.png"))
        w.on_action("heatmap")
        w.on_action("help")
        settle(app, 200)
        w.grab().save(str(out / f"help_{w_}x{h_}.png"))
        w.on_action("help")
        settle(app, 100)
        w.on_action("find")  # the find bar, with a query typed
        QTest.keyClicks(w.find_bar.edit, w.session.order[min(3, len(w.session.order) - 1)].name[:6])
        settle(app, 300)
        w.grab().save(str(out / f"find_{w_}x{h_}.png"))
        w.find_bar.close_bar()
        settle(app, 100)
        v = w.review.viewer  # flipped left–right, the loupe on, the presets menu of this image
        v.flip_horizontal()
        v.set_loupe(True)
        v._update_loupe(v.viewport().rect().center())
        settle(app, 200)
        w.grab().save(str(out / f"loupe_flip_{w_}x{h_}.png"))
        v.set_loupe(False)
        v.reset_view()
        settle(app, 100)
    from desktop.dialogs.settings import SettingsDialog

    dlg = SettingsDialog(Settings(key_profile="ohif"), w)  # the Keyboard tab with the OHIF profile
    dlg.findChild(QTabWidget).setCurrentIndex(1)
    dlg.show()
    settle(app, 200)
    dlg.grab().save(str(out / "settings_keys_ohif.png"))
    dlg.close()
    w.worklist.tabs.setCurrentIndex(FILTERS.index("errors"))  # Errors: unreadable files and why
    settle(app, 300)
    w.grab().save(str(out / f"errors_{w.width()}x{w.height()}.png"))
    print(f"screenshots in {out}")
    w.close()
    w.deleteLater()
    settle(app, 50)
    store.close()
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
