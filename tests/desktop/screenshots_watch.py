"""Screenshots of the watched folder's status-bar notices (a script, not a test; pytest does not collect it).

    .venv/bin/python tests/desktop/screenshots_watch.py [--out DIR] [--data ../shared/data/fracatlas/images]

Opens a folder of 12 FracAtlas images (synthetic ones without the shared data) with the installed
model (else the synthetic test model), waits for the scan, then copies one more image in and waits for
the watch to score it; saves, at 1366×768 and 1920×1080, the window while watching and the window with
the "new image flagged" notice (the brightest synthetic image is flagged by the test model; with the
real model the new image is the folder's highest-scored one, copied under a new name).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from tests.desktop.screenshots import SIZES, settle, wait  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fracatlas" / "images"))
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "fracture-triage-watch-shots"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ft-watch-shots-"))
    os.environ["FRACTURE_TRIAGE_HOME"] = str(tmp / "home")
    from PySide6.QtWidgets import QApplication

    from core.model import ModelError, find_default_model, load_model
    from core.settings import Settings
    from core.store import open_store
    from desktop.main_window import MainWindow
    from tests.desktop.conftest import make_image_folder

    from desktop import theme

    app = QApplication.instance() or QApplication(["screenshots"])
    theme.apply_theme(app)
    folder = tmp / "incoming"
    try:
        model = load_model(find_default_model())
        real = True
    except ModelError:
        from tests.model_factory import write_model

        model, real = load_model(write_model(tmp / "model")), False
    data = Path(args.data)
    if real and data.is_dir():
        folder.mkdir()
        for p in sorted(data.glob("*.jpg"))[:12]:
            shutil.copy(p, folder / p.name)
    else:
        make_image_folder(folder, corrupt=False)
    store = open_store(f"sqlite:///{tmp / 'labels.sqlite3'}", backups_keep=0)
    w = MainWindow(store=store, model=model, settings=Settings(), reviewer="QA", settings_path=tmp / "s.json")
    w.resize(*SIZES[0])
    w.show()
    done = []
    w.scan_done.connect(done.append)
    w.open_folder(folder)
    assert wait(app, lambda: done and w.session.watcher.active, 300), "scan did not finish"
    s = w.session
    for size in SIZES:
        w.resize(*size)
        settle(app, 300)
        s.watcher.polled.emit(s.watcher.last or type("R", (), {"pending": 0})())
        w.grab().save(str(out / f"watching-{size[0]}x{size[1]}.png"))
    flagged = []
    s.new_flagged.connect(lambda m, k: flagged.append(m))
    s.watcher.notify_delay_s = 0.0
    if real:
        top = s.order[0]
        shutil.copy(top.path, folder / ("NEW-" + top.name))
        with open(folder / ("NEW-" + top.name), "ab") as fh:
            fh.write(b"\0")  # other bytes: a new image, not a duplicate of the top one
    else:
        import numpy as np
        from PIL import Image

        a = np.clip(np.random.default_rng(1).normal(214, 4, (96, 96)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / "NEW-xray.png")
    s.watcher.look_now()
    ok = wait(app, lambda: flagged, 120)
    print("new flagged:", flagged[0] if ok else "(not flagged within 120 s)")
    for size in SIZES:
        w.resize(*size)
        settle(app, 300)
        w.grab().save(str(out / f"new-flagged-{size[0]}x{size[1]}.png"))
    print(f"screenshots in {out}")
    w.close()
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
