"""Screenshots of the study mode for review (a script, not a test; pytest does not collect it).

    .venv/bin/python tests/desktop/screenshots_studies.py [--data ../shared/data/fracatlas/images]
                                                          [--studies 12] [--out DIR] [--model PATH]

Builds a clinic-like folder in a throwaway app home — one folder per study, each holding two to four
consecutive FracAtlas radiographs (consecutive ids are often views of one patient) — opens it, waits
for the scan, lists studies (G) and saves, at 1366×768 and 1920×1080: a study row with its views side
by side (``study_*``), the same study stepped into (``study_view_*``), and the "All" filter after one
study decision (``study_all_*``). Everything runs offscreen.
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
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "fracture-triage-screenshots"))
    ap.add_argument("--studies", type=int, default=12)
    ap.add_argument("--model", default="")
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"no data folder at {data}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="ft-study-shots-"))
    os.environ["FRACTURE_TRIAGE_HOME"] = str(home)
    folder = home / "incoming"
    files = sorted(data.iterdir())
    start = 0
    for s in range(args.studies):
        n = 2 + s % 3
        study = folder / f"exam_{s:03d}"
        study.mkdir(parents=True)
        for p in files[start:start + n]:
            shutil.copy2(p, study / p.name)
        start += n + 7  # leave a gap: the next study is another patient's

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

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
        print(f"model {model.name} {model.version}")
    except ModelError as exc:
        from tests.model_factory import write_model

        model = load_model(write_model(home / "test-model"))
        print(f"no installed model ({exc}); using the synthetic TEST model — probabilities are meaningless")
    store = open_store(None, backups_keep=0)
    w = MainWindow(store=store, model=model, settings=Settings(reviewer="Dr Screenshot"), reviewer="Dr Screenshot")
    w.resize(*SIZES[0])
    w.show()
    w.activateWindow()
    done = []
    w.scan_done.connect(done.append)
    w.open_folder(folder)
    if not wait(app, lambda: bool(done), 600):
        print("scan did not finish in time", file=sys.stderr)
        return 1
    v = w.review.viewer
    w.on_action("study_mode")
    wait(app, lambda: w.session.studies_shown, 10)
    study = w.session.current_item
    wait(app, lambda: all(w.review.cache.get(x.image_id) is not None for x in study.views), 30)
    for w_, h_ in SIZES:
        w.resize(w_, h_)
        settle(app, 400)
        w.grab().save(str(out / f"study_{w_}x{h_}.png"))
    w.on_action("step_in")
    wait(app, lambda: v.image is not None and v.image.qimage is not None, 30)
    for w_, h_ in SIZES:
        w.resize(w_, h_)
        settle(app, 400)
        v.fit()
        settle(app, 100)
        w.grab().save(str(out / f"study_view_{w_}x{h_}.png"))
    w.on_action("step_out")
    QTest.keyClick(v, Qt.Key.Key_N)
    wait(app, lambda: not w.session.busy, 10)
    w.worklist.tabs.setCurrentIndex(FILTERS.index("all"))
    nxt = w.session.current_item
    wait(app, lambda: all(w.review.cache.get(x.image_id) is not None for x in nxt.views), 30)
    for w_, h_ in SIZES:
        w.resize(w_, h_)
        settle(app, 400)
        w.grab().save(str(out / f"study_all_{w_}x{h_}.png"))
    print(f"screenshots in {out}")
    w.close()
    w.deleteLater()
    settle(app, 50)
    store.close()
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
