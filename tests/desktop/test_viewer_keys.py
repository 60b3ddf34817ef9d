"""Viewer conventions in the main window, by keys and menus (offscreen): the presets combo and keys
follow the image's own windows, flips and rotations both ways, the loupe, full screen (F11, Esc),
and the optional OHIF key profile chosen in Settings (Space reset, R rotate, H flip, I invert, = fit)
while the default profile stays as it was."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.settings import Settings
from desktop import shortcuts
from tests.core.imaging import factory
from tests.desktop.test_main_window import press

SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def dicom_window(make_window, tmp_path, qtbot):
    """A window on a folder of one SIGMOID DICOM with two named windows."""
    folder = tmp_path / "dicom"
    folder.mkdir()
    ph = factory.phantom(dtype=np.uint16, hi=4000)
    (folder / "hand.dcm").write_bytes(factory.dicom(ph, bits_stored=12, WindowCenter=[2000, 3500],
                                                    WindowWidth=[1000, 600], VOILUTFunction="SIGMOID",
                                                    WindowCenterWidthExplanation=["STANDARD", "BONE"]))

    def make(settings=None):
        w = make_window(settings=settings)
        with qtbot.waitSignal(w.scan_done, timeout=60000):
            w.open_folder(folder)
        qtbot.waitUntil(lambda: w.review.viewer.image is not None and w.review.viewer.image.qimage is not None)
        return w

    return make


def test_presets_combo_and_keys_follow_the_files_windows(dicom_window, qtbot):
    w = dicom_window()
    v = w.review.viewer
    items = [w.presets.itemText(i) for i in range(w.presets.count())]
    assert items == ["1  STANDARD (file)", "2  BONE (file)", "3  Full range", "4  High contrast", "5  Bone detail"]
    assert w.actions["preset_2"].text() == "Window preset 2: BONE (file)"
    assert w.actions["preset_5"].isVisible() and not w.actions["preset_6"].isVisible()
    press(qtbot, w, Qt.Key.Key_2)
    assert v.preset_index == 1 and v.window == (3500.0, 600.0) and v.window_function == "SIGMOID"
    assert w.presets.currentIndex() == 1 and "BONE (file)" in w.review.info.right.text()
    press(qtbot, w, Qt.Key.Key_3)
    assert v.preset_name() == "Full range" and v.window_function == "LINEAR"


def test_flip_rotate_and_loupe_by_default_keys(scanned, qtbot):
    w = scanned
    v = w.review.viewer
    press(qtbot, w, Qt.Key.Key_M)  # mirror left–right
    assert v.mirrored and "flipped left–right" in w.review.info.right.text()
    press(qtbot, w, Qt.Key.Key_M, SHIFT)  # flip vertically: back to unmirrored, half a turn
    assert not v.mirrored and v.rotation == 180
    press(qtbot, w, Qt.Key.Key_T, SHIFT)
    assert v.rotation == 90
    press(qtbot, w, Qt.Key.Key_T)
    assert v.rotation == 180
    press(qtbot, w, Qt.Key.Key_L)
    assert v.loupe_on and w.actions["loupe"].isChecked() and "loupe" in w.review.info.right.text()
    press(qtbot, w, Qt.Key.Key_L)
    assert not v.loupe_on
    press(qtbot, w, Qt.Key.Key_R)  # default profile: R resets
    assert v.rotation == 0 and not v.mirrored
    for name in ("rotate_left", "flip_horizontal", "flip_vertical", "loupe", "full_screen"):
        assert any(a is w.actions[name] for m in w.menuBar().actions() if m.menu() for a in m.menu().actions()), name
    press(qtbot, w, Qt.Key.Key_Space)  # and Space is still "next image"
    assert w.session.triage.current == 1


def test_full_screen_with_f11_and_back_with_esc(scanned, qtbot):
    w = scanned
    press(qtbot, w, Qt.Key.Key_F11)
    qtbot.waitUntil(w.isFullScreen)
    assert w.actions["full_screen"].isChecked()
    press(qtbot, w, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.isFullScreen())
    press(qtbot, w, Qt.Key.Key_F11)
    qtbot.waitUntil(w.isFullScreen)
    press(qtbot, w, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not w.isFullScreen())
    assert not w.actions["full_screen"].isChecked()


def test_the_ohif_profile_has_no_clashes_and_keeps_the_decision_keys():
    for profile in shortcuts.PROFILES:
        assert shortcuts.conflicts(shortcuts.profile_keys(profile)) == {}, profile
    default, ohif = shortcuts.profile_keys("default"), shortcuts.profile_keys("ohif")
    assert default == shortcuts.effective_shortcuts()  # the default profile is the table as it was
    assert (ohif["reset_view"], ohif["rotate"], ohif["flip_horizontal"], ohif["invert"], ohif["fit"]) == \
        (["Space"], ["R"], ["H"], ["I"], ["="])
    assert ohif["rotate_left"] == ["L"] and ohif["flip_vertical"] == ["V"] and ohif["zoom_in"] == ["+"]
    assert ohif["next"] == ["Down", "J"] and ohif["previous"] == ["Up", "K"]
    assert [ohif[f"preset_{i}"] for i in range(1, 10)] == [[str(i)] for i in range(1, 10)]
    for name in ("fracture", "no_fracture", "doubt", "in_scope", "undo", "redo", "find", "full_screen"):
        assert ohif[name] == default[name], name
    o = shortcuts.effective_shortcuts({"heatmap": ["C"]}, "ohif")
    assert o["heatmap"] == ["C"] and shortcuts.overrides_from(o, "ohif") == {"heatmap": ["C"]}


def test_ohif_profile_keys_in_the_window(scanned, qtbot):
    w = scanned
    v = w.review.viewer
    w.settings.key_profile = "ohif"
    w.apply_shortcuts()
    press(qtbot, w, Qt.Key.Key_R)  # rotate right
    press(qtbot, w, Qt.Key.Key_H)  # flip horizontally (not the heatmap)
    assert v.rotation == 90 and v.mirrored and not v.heatmap_visible
    press(qtbot, w, Qt.Key.Key_I)
    assert v.inverted
    press(qtbot, w, Qt.Key.Key_Plus)
    assert not v._fit_mode
    press(qtbot, w, Qt.Key.Key_Equal)  # = fit
    assert v._fit_mode
    press(qtbot, w, Qt.Key.Key_Space)  # reset, not next
    assert (v.rotation, v.mirrored, v.inverted) == (0, False, False) and w.session.triage.current == 0
    press(qtbot, w, Qt.Key.Key_Down)  # next image
    assert w.session.triage.current == 1
    press(qtbot, w, Qt.Key.Key_H, SHIFT)  # the heatmap moved to Shift+H
    assert v.heatmap_visible
    press(qtbot, w, Qt.Key.Key_F)  # decisions unchanged
    assert len(w.session.store.current_labels()) == 1


def test_the_profile_is_chosen_in_settings_and_saved(qtbot, tmp_path):
    from desktop.dialogs.settings import SettingsDialog

    s = Settings()
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.current_profile() == "default"
    dlg.profile.setCurrentIndex(dlg.profile.findData("ohif"))
    dlg.profile.activated.emit(dlg.profile.currentIndex())
    assert dlg.key_mapping()["reset_view"] == ["Space"] and dlg.key_mapping()["next"] == ["Down", "J"]
    dlg.accept()
    assert s.key_profile == "ohif" and s.shortcuts == {}  # nothing changed beyond the profile
    s.save(tmp_path / "settings.json")
    again = Settings.load(tmp_path / "settings.json")
    assert again.key_profile == "ohif"
    dlg2 = SettingsDialog(again)
    qtbot.addWidget(dlg2)
    assert dlg2.current_profile() == "ohif" and dlg2.key_mapping()["rotate"] == ["R"]
