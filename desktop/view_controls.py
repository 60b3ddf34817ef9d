"""The viewer's controls in the main window: the toolbar's window-preset list and heatmap opacity
slider, the heatmap toggle (H / the toolbar; never under blinded reading), and the check marks and
preset actions kept in step with what the viewer shows (``view_changed``). The viewer
(``desktop.viewer``) draws; this part connects it to the window's actions and ``Settings``."""

from __future__ import annotations

from PySide6.QtCore import QObject

from desktop.actions import fill_presets, preset_labels


class ViewControls(QObject):
    def __init__(self, window) -> None:  # noqa: ANN001 - the MainWindow
        super().__init__(window)
        self.window = window
        self._preset_labels: list[str] = []
        v = window.review.viewer
        window.presets.activated.connect(lambda i: v.apply_preset(i))
        window.opacity.valueChanged.connect(self._opacity_changed)
        v.set_heatmap_opacity(window.settings.heatmap_opacity)
        v.view_changed.connect(self._sync_actions)

    def toggle_heatmap(self) -> None:
        w = self.window
        v = w.review.viewer
        if w.session.reading.blinded:
            w.review.message("Blinded reading: the heatmap is hidden.", "#e8a33d")
            return
        on = not v.heatmap_visible
        v.set_heatmap_visible(on)
        if on and w.session.model is None:
            w.review.message("No model is installed, so there is no heatmap.", "#e8a33d")
        elif on and not v.has_heatmap and v.image is not None:
            w.review.message("This model gives no heatmap for this image.", "#e8a33d")

    def _opacity_changed(self, value: int) -> None:
        w = self.window
        w.settings.heatmap_opacity = value / 100.0
        w.review.viewer.set_heatmap_opacity(value / 100.0)
        if not w.review.viewer.heatmap_visible and not w.session.reading.blinded:
            w.review.viewer.set_heatmap_visible(True)

    def _sync_actions(self) -> None:
        w = self.window
        v = w.review.viewer
        w.actions["heatmap"].setChecked(v.heatmap_visible)
        w.actions["invert"].setChecked(v.inverted)
        w.actions["loupe"].setChecked(v.loupe_on)
        presets = v.image.presets if v.image is not None else []
        labels = preset_labels(presets)
        if labels != self._preset_labels:  # a new image's presets (not on every drag step)
            self._preset_labels = labels
            fill_presets(w.presets, presets)
            for i in range(1, 10):
                act = w.actions[f"preset_{i}"]
                act.setText(f"Window preset {i}: {labels[i - 1]}" if i <= len(labels) else f"Window preset {i}")
                act.setVisible(i <= len(labels))
        idx = v.preset_index
        if 0 <= idx < w.presets.count():
            w.presets.setCurrentIndex(idx)
