"""The agreement page (Review › Agreement between readers…): how well the readers agree and how each
reads against the reference label — the same report as ``fracture-triage agreement``, from
``core.agreement`` over the store's per-reader labels (``core.store.readers.agreement_inputs``).

Shown as tables: Cohen's κ for each pair of readers and Fleiss' κ overall with 95% bootstrap intervals,
each reader's sensitivity and specificity against the reference (Wilson 95%), and aided against blinded
reading side by side (sensitivity, specificity, median time to decide) — always with the counts. The
store is read and the report computed on a worker thread; nothing is computed here.
"""

from __future__ import annotations

import html
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from core.reading import MODE_TITLES

_STYLE = ("<style>table { border-collapse: collapse; margin-bottom: 14px; } th, td { padding: 4px 12px; "
          "border-bottom: 1px solid #39424b; } th { text-align: left; color: #97a1ab; font-weight: 600; } "
          "td.n { text-align: right; } h3 { margin: 12px 0 6px 0; } p.note { color: #97a1ab; }</style>")


def compute(store):  # noqa: ANN001, ANN201 - runs on a worker thread
    from core.agreement import agreement_report
    from core.store.readers import agreement_inputs

    reads, reference, source = agreement_inputs(store.labels_by_reader())
    return agreement_report(reads, reference, source)


def _iv(iv, digits: int = 2, percent: bool = False) -> str:
    if iv.value is None:
        return "n/a"
    f = (lambda v: f"{v * 100:.0f}%") if percent else (lambda v: f"{v:.{digits}f}")
    ci = "" if iv.low is None else f" [{f(iv.low)}, {f(iv.high)}]"
    return f(iv.value) + ci


def _of(k: int, n: int) -> str:
    return f"{k:,} of {n:,}"


def _table(head: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td{' class=n' if i >= numeric_from else ''}>{html.escape(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    return "".join(out) + "</table>"


def report_html(report) -> str:  # noqa: ANN001
    """The report as the page shows it (plain HTML tables; tests read it)."""
    if not report.readers:
        return (_STYLE + "<h3>No readings yet</h3><p class=note>Agreement needs decisions by at least two readers "
                "on the same images. Turn on double reading (Review › Reader…) so that every image is read twice.</p>")
    refs = ", ".join(f"{k} {v:,}" for k, v in sorted(report.reference_counts.items())) or "none"
    parts = [_STYLE, f"<p><b>Readers:</b> {html.escape(', '.join(report.readers))} &nbsp;·&nbsp; <b>images read:</b> "
             f"{report.images:,} &nbsp;·&nbsp; <b>reference labels:</b> {html.escape(refs)}</p>"]
    parts.append("<h3>Agreement between readers</h3>")
    rows = [[pair, _iv(iv), f"{iv.n:,}"] for pair, iv in report.pairs.items()]
    rows.append(["Fleiss' κ, all readers", _iv(report.fleiss), f"{report.fleiss.n:,}"])
    parts.append(_table(["Readers", "Cohen's κ [95% interval]", "images both read"], rows))
    parts.append("<h3>Each reader against the reference label</h3>")
    parts.append(_table(["Reader", "reads", "sensitivity [95%]", "TP of n", "specificity [95%]", "TN of n", "doubt",
                         "unscored"],
                        [[s.reader, f"{s.reads:,}", _iv(s.sensitivity, percent=True), _of(s.counts.tp, s.sensitivity.n),
                          _iv(s.specificity, percent=True), _of(s.counts.tn, s.specificity.n), f"{s.doubt:,}",
                          f"{s.counts.unscored:,}"]
                         for s in report.per_reader]))
    parts.append("<h3>Aided against blinded reading</h3>")
    parts.append(_table(["Reading", "reads", "sensitivity [95%]", "TP of n", "specificity [95%]", "TN of n",
                         "median time to decide", "timed"],
                        [[MODE_TITLES.get(m.mode, m.mode), f"{m.reads:,}", _iv(m.sensitivity, percent=True),
                          _of(m.counts.tp, m.sensitivity.n), _iv(m.specificity, percent=True),
                          _of(m.counts.tn, m.specificity.n),
                          "n/a" if m.median_ms is None else f"{m.median_ms / 1000:.1f} s", f"{m.timed:,}"]
                         for m in report.modes]))
    parts.append("<p class=note>κ: 1 is perfect agreement, 0 what chance gives. Intervals: 1000 bootstrap resamples "
                 "of images (κ), Wilson (sensitivity, specificity; fracture the positive class). Unscored: no reference "
                 "yet (disputed), a doubtful reference, or the reader's own single reading. Where the reference is the readers' own agreement "
                 "they score high by construction — adjudicate the disputed images for a fair comparison. "
                 "Adjudicators are not counted as readers. The same report: <code>fracture-triage agreement</code>.</p>")
    return "".join(parts)


class AgreementDialog(QDialog):
    report_ready = Signal(object)  # core.agreement.Report (tests wait on it)
    failed = Signal(str)

    def __init__(self, tasks, store, parent: Optional[QWidget] = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setWindowTitle("Agreement between readers")
        self.resize(900, 620)
        self.tasks, self.store = tasks, store
        self.report = None
        lay = QVBoxLayout(self)
        self.status = QLabel("")
        lay.addWidget(self.status)
        self.page = QTextBrowser()
        self.page.setOpenExternalLinks(False)
        lay.addWidget(self.page, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.refresh_button = QPushButton("Refresh")
        buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh_button.clicked.connect(self.refresh)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def refresh(self) -> None:
        """Read the labels and compute the report in the background (a second or two for large studies)."""
        self.refresh_button.setEnabled(False)
        self.status.setText("Computing the agreement report…")
        store = self.store
        self.tasks.run_in_background(lambda: compute(store), self._show, self._failed)

    def _show(self, report) -> None:  # noqa: ANN001
        self.report = report
        self.refresh_button.setEnabled(True)
        self.status.setText("")
        self.page.setHtml(report_html(report))
        self.report_ready.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        text = f"The agreement report could not be made: {exc}"
        self.status.setText(html.escape(text))
        self.failed.emit(text)
