"""Desktop test fixtures: a folder of generated radiograph-like images whose test-model probabilities
are known in advance (brighter → higher), one corrupt file, and a main window that has scanned it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.model_factory import expected_probability

N_IMAGES = 8
LEVELS = [40 + 24 * i for i in range(N_IMAGES)]  # mean grey of each image: distinct probabilities


def make_image_folder(folder: Path, n: int = N_IMAGES, corrupt: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for i, level in enumerate(LEVELS[:n]):
        a = np.clip(rng.normal(level, 6, (96, 96)), 0, 255).astype(np.uint8)  # square: no letterbox padding
        Image.fromarray(a).save(folder / f"xray_{i:02d}.png")
    if corrupt:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20)
    return folder


def expected_order(n: int = N_IMAGES) -> list[str]:
    """File names by descending expected probability."""
    probs = {f"xray_{i:02d}.png": expected_probability(LEVELS[i] / 255.0) for i in range(n)}
    return sorted(probs, key=lambda k: -probs[k])


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_image_folder(tmp_path / "xrays")


@pytest.fixture
def db_url(tmp_path) -> str:
    return "sqlite:///" + str(tmp_path / "labels.sqlite3")


@pytest.fixture
def make_window(qtbot, tmp_path, test_model, db_url):
    """Factory: a shown, active MainWindow on a fresh store (with the test model unless model=None)."""
    from core.model import load_model
    from core.settings import Settings
    from core.store import open_store
    from desktop.main_window import MainWindow

    made = []

    def make(*, model="test", reviewer="QA", settings: Settings | None = None, thumbnails=None):
        store = open_store(db_url, backups_keep=0)
        m = load_model(test_model) if model == "test" else model
        w = MainWindow(store=store, model=m, settings=settings or Settings(), reviewer=reviewer,
                       model_problem="" if m else "no model installed in resources/models",
                       settings_path=tmp_path / f"settings-{len(made)}.json", thumbnails=thumbnails)
        qtbot.addWidget(w)
        w.resize(1366, 768)
        with qtbot.waitExposed(w):
            w.show()
        w.activateWindow()
        qtbot.waitUntil(lambda: w.isActiveWindow())
        made.append((w, store))
        return w

    yield make
    for w, store in made:
        if w.isVisible():
            w.close()
        store.close()


@pytest.fixture
def scanned(make_window, image_folder, qtbot):
    """A window that has opened ``image_folder`` and finished scanning it."""
    w = make_window()
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(image_folder)
    qtbot.waitUntil(lambda: w.review.viewer.image is not None and w.review.viewer.image.qimage is not None)
    return w


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp):
    """As the app does (``desktop.gc_guard``): cyclic garbage — closed windows' Qt wrappers included — is
    freed on the GUI thread, never by a collection that a worker thread happens to trigger (which can
    destroy Qt objects outside their thread and abort the process)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from desktop import gc_guard

    gc_guard.install(qapp)
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    import gc

    gc.collect()
    gc_guard.uninstall()
