"""The right-hand side of the window: the probability header, the viewer with its toast, the compact
info panel under it, and the prefetching that makes the next image appear at once.

Patient identifiers (DICOM PatientName/ID/BirthDate, StudyDate) are shown here on screen only: they
come from the decoded file each time and are never logged, stored or exported.

Study mode: on a study row the viewer gives way to the study's views side by side
(``desktop.study_view.StudyGrid``) and the header says that F/N/D decide every view; on a view of the
open study the header says they decide that view only.
"""

from __future__ import annotations

import html
import time
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.studies import STUDY_PREFIX
from desktop import theme
from desktop.after_paint import after_next_paint
from desktop.prefetch import ImageCache, LoadedImage
from desktop.study_view import StudyGrid
from desktop.toast import Toast
from desktop.viewer import ImageViewer

PATIENT_FIELDS = (("PatientName", "Patient"), ("PatientID", "ID"), ("PatientBirthDate", "Born"))


def _person_name(value: str) -> str:
    """DICOM PN 'Family^Given^Middle' → 'Family, Given Middle'."""
    parts = [p.strip() for p in value.split("=")[0].split("^")]
    family, rest = parts[0], " ".join(p for p in parts[1:] if p)
    return f"{family}, {rest}" if family and rest else (family or rest)


def _dicom_date(value: str) -> str:
    v = value.strip()
    return f"{v[:4]}-{v[4:6]}-{v[6:8]}" if len(v) == 8 and v.isdigit() else v


class InfoPanel(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("infoPanel")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 12, 6)
        self.left = QLabel("")
        self.left.setTextFormat(Qt.TextFormat.RichText)
        self.left.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.left.setWordWrap(True)
        self.right = QLabel("")
        self.right.setTextFormat(Qt.TextFormat.RichText)
        self.right.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(self.left, 1)
        lay.addWidget(self.right, 0)

    def show_item(self, item, loaded: Optional[LoadedImage], view_text: str = "") -> None:
        if item is None:
            self.left.setText("")
            self.right.setText("")
            return
        m = "<span style='color:#97a1ab'>"
        if item.is_study:
            self._show_study(item, m)
            return
        parts = [f"<b>{html.escape(item.name)}</b>"]
        if loaded is not None and loaded.width:
            parts.append(f"{loaded.width}×{loaded.height} {html.escape(loaded.format)}")
        body = " / ".join(x for x in (item.body_part or (loaded.body_part if loaded else ""),
                                      item.view or (loaded.view if loaded else "")) if x)
        if body:
            parts.append(html.escape(body))
        if loaded is not None:
            so = loaded.screen_only
            if so.get("StudyDate"):
                parts.append(f"{m}Study</span> {html.escape(_dicom_date(so['StudyDate']))}")
            shown = {"PatientName": _person_name, "PatientBirthDate": _dicom_date}
            patient = [f"{m}{label}</span> {html.escape(shown.get(key, str)(so[key]))}"
                       for key, label in PATIENT_FIELDS if so.get(key)]
            if patient:
                parts.append(" ".join(patient))
            if loaded.notes:
                parts.append("<span style='color:#e8c07d'>Note:</span> " + m + html.escape("; ".join(loaded.notes))
                             + "</span>")
        if getattr(item, "scope", None) == "out_of_scope":
            why = html.escape(item.scope_reason or "unlike the training images")
            if item.scope_marked_by:
                parts.append(f"<span style='color:#9fd3a8'>In scope after all</span> {m}({html.escape(item.scope_marked_by)};"
                             f" model said: {why})</span>")
            else:
                parts.append(f"<span style='color:#f0a58f'>Out of the model's scope:</span> {why} "
                             f"{m}(no fracture flag; S: in scope after all)</span>")
        if item.label and item.reviewer:
            when = item.decided_at.strftime("%Y-%m-%d %H:%M") if item.decided_at else ""
            parts.append(f"{m}decided by</span> {html.escape(item.reviewer)} {m}{when}</span>")
        if getattr(item, "readers_text", None):  # adjudicators only (core.reading)
            parts.append(f"{m}Readers:</span> {html.escape(item.readers_text)}")
        if getattr(item, "settled", False) and item.label is None and not getattr(item, "readers_text", None):
            parts.append(f"{m}read by another reader (their label is not shown)</span>")
        if getattr(item, "held", False):
            parts.append(f"{m}open at another reader's workstation</span>")
        self.left.setText(" &nbsp;·&nbsp; ".join(parts))
        self.left.setToolTip(str(item.path))
        self.right.setText(f"{m}{html.escape(view_text)}</span>")


    def _show_study(self, st, m: str) -> None:
        """A study row: its key, views, how it was grouped, body parts / views, who decided."""
        how = {"dicom": "DICOM study", "folder": "grouped by folder", "name_prefix": "grouped by file-name prefix",
               "file": "one file"}.get(st.kind, st.kind)
        n = len(st.views)
        parts = [f"<b>{html.escape(st.name)}</b>", f"{n} view{'s' if n != 1 else ''} {m}({how})</span>"]
        body = " / ".join(x for x in (st.body_part, st.view) if x)
        if body:
            parts.append(html.escape(body))
        if st.decided_views:
            who = f" {m}by</span> {html.escape(st.reviewer)}" if st.reviewer else ""
            parts.append(f"{m}decided</span> {st.decided_views} of {len(st.readable)}{who}")
        self.left.setText(" &nbsp;·&nbsp; ".join(parts))
        self.left.setToolTip("The study key is pseudonymous: it names neither the patient nor the folder.")
        self.right.setText(f"{m}{'highest view score' if st.method == 'max' else 'noisy-OR of the views'}</span>")


class ProbabilityHeader(QFrame):
    """Strip above the image: fracture probability, flag and current decision — always visible, never
    drawn over the anatomy."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("probHeader")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(14, 6, 14, 6)
        self.label = QLabel("")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.decision = QLabel("")
        self.decision.setTextFormat(Qt.TextFormat.RichText)
        self.decision.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.decision, 0)
        self.show_for(None, None, None, empty=True)

    def show_for(self, probability: Optional[float], flag: Optional[str], label: Optional[str],
                 empty: bool = False, other_model: str = "", blinded: bool = False, unit: str = "") -> None:
        """``unit``: what a decision key decides here, said beside the decision (study mode)."""
        colour = theme.flag_colour(flag, probability).name()
        if empty:
            self.label.setText("")
            self.decision.setText("")
            colour = "#2f363e"
        elif probability is None:
            self.label.setText("<span style='font-size:14pt; font-weight:600'>Not scored</span>")
        else:
            flag_html = (f"<span style='color:{colour}; font-weight:700'>■ {theme.FLAG_TEXT[flag].upper()}</span>"
                         if flag in theme.FLAG_TEXT else "<span style='color:#97a1ab'>not flagged</span>")
            if other_model:  # a score stored by another model than the one loaded now: say so
                flag_html = (f"<span style='color:#e8a33d'>from model {html.escape(other_model)} "
                             "(an earlier scan)</span>")
            self.label.setText(f"<span style='font-size:17pt; font-weight:700'>{probability * 100:.0f}%</span>"
                               f"&nbsp; <span style='color:#c9d1d9'>fracture probability</span>"
                               f"&nbsp;&nbsp;&nbsp; {flag_html}")
        if blinded and not empty:  # the model is hidden from this reader (core.reading)
            colour = "#2f363e"
            self.label.setText("<span style='font-size:14pt; font-weight:600'>Blinded reading</span>&nbsp; "
                               "<span style='color:#97a1ab'>the model's score, flag and heatmap are hidden</span>")
        if not empty:
            hint = (f"<br><span style='color:#e8c07d'>{html.escape(unit)}</span>" if unit else "")
            if label in theme.LABEL_TEXT:
                self.decision.setText(f"<span style='color:#97a1ab'>Decision</span>&nbsp; <span style='color:"
                                      f"{theme.LABEL_COLOURS[label].name()}; font-size:13pt; font-weight:700'>"
                                      f"{theme.LABEL_TEXT[label]}</span>" + hint)
            else:
                self.decision.setText("<span style='color:#97a1ab'>Undecided — F fracture · N no fracture · "
                                      "D doubt</span>" + hint)
        self.setStyleSheet(f"QFrame#probHeader {{ background: #1a1f24; border-bottom: 1px solid #2f363e;"
                           f" border-left: 5px solid {colour}; }} QFrame#probHeader QLabel {{ color: #e6ebf0; }}")


class ReviewPane(QWidget):
    image_shown = Signal(str, float)  # image_id, ms since the triggering action (-1 when unknown)
    displayed = Signal(str)  # row key now on screen (core.order.row_key): the image painted, or a study's views

    def __init__(self, tasks, model_getter: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = ImageCache(tasks, model_getter, capacity=6, parent=self)
        self._model_getter = model_getter
        self.viewer = ImageViewer(self)
        self.info = InfoPanel(self)
        self.header = ProbabilityHeader(self)
        self.toast = Toast(self.viewer)
        self.grid = StudyGrid(self.cache, self)
        self.grid_toast = Toast(self.grid)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.viewer)
        self.stack.addWidget(self.grid)
        self.study = None  # the open study, when ``item`` is one of its views
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.header)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.info)
        self._item = None
        self.blinded = False  # the model is hidden (core.reading): no score, flag or heatmap
        self._shown_id: Optional[str] = None
        self._later: list = []  # neighbours to prefetch once the current image is on screen
        self.action_time: Optional[float] = None  # perf_counter of the key that led to the next image
        self.cache.loaded.connect(self._loaded)
        self.viewer.shown.connect(self._painted)
        self.grid.shown.connect(lambda key: self.displayed.emit(STUDY_PREFIX + key))
        self.viewer.view_changed.connect(self._update_view_text)

    @property
    def item(self):
        return self._item

    @property
    def showing_study(self) -> bool:
        return self.stack.currentWidget() is self.grid

    def message(self, text: str, colour: str) -> None:
        """A toast over whatever is shown (the viewer, or a study's views)."""
        (self.grid_toast if self.showing_study else self.toast).show_message(text, colour)

    def show_item(self, item, neighbours: list, study=None) -> None:
        """Show ``item`` (a WorkItem, a StudyItem, or None) and prefetch ``neighbours``; ``study``: the
        open study when ``item`` is one of its views."""
        self._item = item
        self.study = study
        self._later = []
        self.stack.setCurrentWidget(self.grid if item is not None and item.is_study else self.viewer)
        if item is not None and item.is_study:
            self._shown_id = None
            self._show_header(item)
            self.grid.show_study(item)
            self.info.show_item(item, None)
            for n in neighbours:
                if n is not None and n.error is None and n.image_id:
                    self.cache.request(n.image_id, n.path)
            return
        self.grid.show_study(None)
        if item is None:
            self._shown_id = None
            self.header.show_for(None, None, None, empty=True)
            self.viewer.set_image(None, "Nothing in this list. Choose another filter above the table.")
            self.info.show_item(None, None)
        elif item.error is not None:
            self._shown_id = None
            self.header.show_for(None, None, None, empty=True)
            self.header.label.setText("<span style='color:#f0a58f; font-weight:600'>Unreadable file</span>")
            self.viewer.set_image(None, f"This file could not be read:\n\n{item.error}\n\n{item.path}")
            self.info.show_item(item, None)
        else:
            self._show_header(item)
            loaded = self.cache.get(item.image_id)
            if loaded is not None:
                self._present(loaded)
            else:
                if self._shown_id != item.image_id:
                    self.viewer.set_image(None, "Loading…")
                # Its decoding (with the heatmap's inference) starts once this turn's paint is done, the
                # neighbours' once it is on screen: started at once, they ran Python beside the GUI
                # thread's showing of the new row and stretched that turn from about 20 ms to 40-50
                # (re-opening 10,000 files, tests/benchmarks/bench_large.py).
                after_next_paint(self.viewer.viewport(), lambda: self._request_current(item))
                self._later = [n for n in neighbours if n is not None]
                neighbours = []
            self.info.show_item(item, loaded)
        self._prefetch(neighbours)

    def _shows(self, image_id: str) -> bool:
        """The current row is the single image ``image_id`` (not a study, not moved on meanwhile)."""
        it = self._item
        return it is not None and not it.is_study and it.image_id == image_id

    def _request_current(self, item) -> None:
        if self._shows(item.image_id):
            self.cache.request(item.image_id, item.path, urgent=True)

    def _prefetch(self, neighbours: list) -> None:
        for n in neighbours:
            if n is not None and n.error is None and n.image_id:
                self.cache.request(n.image_id, n.path)

    def refresh_item(self, item) -> None:
        """The same image changed (a decision): update the header and the info line, keep the view."""
        self._item = item
        if item is not None and item.is_study:
            self._show_header(item)
            self.grid.show_study(item)
            self.info.show_item(item, None)
        elif item is not None and item.error is None:
            self._show_header(item)
            self.info.show_item(item, self.cache.get(item.image_id) if item.image_id else None,
                                self._view_text())

    def _show_header(self, item) -> None:
        model = self._model_getter()
        current = model.version if model is not None else None
        other = item.model_version if item.probability is not None and item.model_version != current else ""
        unit = ""
        if item.is_study:
            n = len(item.decidable)
            unit = (f"F / N / D: {'all ' + str(n) + ' views' if n != 1 else 'its one view'} of the study · "
                    "Enter: one view at a time")
        elif self.study is not None:
            keys = [v.image_id for v in self.study.views]
            place = f"View {keys.index(item.image_id) + 1} of {len(keys)}" if item.image_id in keys else "View"
            unit = f"{place} of the study: F / N / D decide this view only · ←: the study"
        self.header.show_for(item.probability, item.flag, item.label, other_model=other or "", blinded=self.blinded,
                             unit=unit)

    def set_blinded(self, on: bool) -> None:
        """Blinded reading: the header hides the score and flag, and the heatmap is off."""
        self.blinded = bool(on)
        if self.blinded:
            self.viewer.set_heatmap_visible(False)
        self.grid.set_blinded(self.blinded)
        if self._item is not None and self._item.error is None:
            self._show_header(self._item)

    def _present(self, loaded: LoadedImage) -> None:
        if self._shown_id == loaded.image_id and self.viewer.image is loaded:
            self.viewer.announce(loaded.image_id)  # on screen already: the next paint says so
            return
        self._shown_id = loaded.image_id
        self.viewer.set_image(loaded, loaded.error)

    def _loaded(self, image_id: str) -> None:
        it = self._item
        if it is not None and it.error is None and it.image_id == image_id:
            loaded = self.cache.get(image_id)
            if loaded is not None:
                self._present(loaded)
                self.info.show_item(it, loaded, self._view_text())
                if not self.viewer.isVisible():  # no paint will come to start the neighbours
                    self._prefetch_later()

    def _prefetch_later(self) -> None:
        later, self._later = self._later, []
        self._prefetch(later)

    def _painted(self, image_id: str) -> None:
        if self._shows(image_id):
            self._prefetch_later()
            self.displayed.emit(image_id)
        t0, self.action_time = self.action_time, None
        ms = (time.perf_counter() - t0) * 1000.0 if t0 is not None else -1.0
        self.image_shown.emit(image_id, ms)

    def _view_text(self) -> str:
        v = self.viewer
        if v.image is None or v.image.qimage is None:
            return ""
        bits = [f"zoom {v.zoom * 100:.0f}%", v.preset_name() or "window as acquired"]
        if v.inverted:
            bits.append("inverted")
        turned = v.orientation_text()
        if turned:
            bits.append(turned)
        if v.loupe_on:
            bits.append("loupe")
        if v.heatmap_visible:
            bits.append("heatmap on" if v.has_heatmap else "no heatmap for this model")
        return " · ".join(bits)

    def _update_view_text(self) -> None:
        it = self._item
        if it is not None and it.error is None:
            text = html.escape(self._view_text())
            turned = html.escape(self.viewer.orientation_text())
            if self.viewer.mirrored and turned:  # left and right are swapped on screen: stand out
                text = text.replace(turned, f"<b style='color:#e8a33d'>{turned}</b>", 1)
            self.info.right.setText(f"<span style='color:#97a1ab'>{text}</span>")
