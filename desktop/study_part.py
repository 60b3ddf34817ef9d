"""The study mode's part of the main window: it wires the session's study signals to the worklist
panel (study counts beside image counts, the indented view rows), the review pane (a study's views side
by side; a click steps into one), the G action's check mark and ``Settings.worklist_by_study``. The
rules (what a study is, its score, what a key decides) are in ``core.studies`` / ``core.study_order`` /
``core.triage``; the session's half is ``desktop.study_mode``.
"""

from __future__ import annotations

from PySide6.QtCore import QObject


class StudyPart(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.images: dict = {}  # image counts per filter (the session's counts_changed)
        self.studies = None  # study counts per filter, or None when the rows are images
        s = window.session
        window.actions["study_mode"].setChecked(window.settings.worklist_by_study)
        window.worklist.set_study_mode(window.settings.worklist_by_study)
        s.counts_changed.connect(self._image_counts)
        s.study_counts_changed.connect(self._study_counts)
        s.study_mode_changed.connect(self._mode_changed)
        window.worklist.step_in_requested.connect(lambda: window.on_action("step_in"))
        window.review.grid.view_clicked.connect(self._view_clicked)

    def toggle(self) -> None:
        """G: list studies instead of images (again: images)."""
        self.window.session.set_study_mode(not self.window.session.by_study)

    def _image_counts(self, counts: dict) -> None:
        self.images = counts
        self.window.worklist.set_counts(counts, self.studies)
        self.window.status.set_counts(counts)

    def _study_counts(self, studies) -> None:
        self.studies = studies
        self.window.worklist.set_counts(self.images, studies)

    def _mode_changed(self, on: bool) -> None:
        w = self.window
        w.actions["study_mode"].setChecked(on)
        w.worklist.set_study_mode(on)
        if w.settings.worklist_by_study != on:
            w.settings.worklist_by_study = on
            w.save_settings()

    def _view_clicked(self, image_id: str) -> None:
        """A click on one of a study's views (side by side): step into the study, onto that view."""
        self.window.session.perform("step_in")
        self.window.session.select(image_id)
