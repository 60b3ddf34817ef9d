"""About: the app's version and licence (GPL-3.0-or-later, with the licence text and the bundled
third-party notices one click away) and the model card (version, metrics, thresholds, intended use,
data credit)."""

from __future__ import annotations

import html
import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QTabWidget,
                               QTextBrowser, QVBoxLayout, QWidget)

from core import APP_NAME, app_version
from core.licences import APP_LICENCE

FRACATLAS_CREDIT = (
    "Trained on <b>FracAtlas</b>: Abedeen, I. et al. “FracAtlas: A Dataset for Fracture Classification, "
    "Localization and Segmentation of Musculoskeletal Radiographs”, <i>Scientific Data</i> 10, 521 (2023), "
    "doi:10.1038/s41597-023-02432-4; data doi:10.6084/m9.figshare.22363012, licence CC BY 4.0. "
    "Demo images: the <code>pydicom-data</code> package (MIT).")


def _metric_rows(metrics: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}".replace("_", " ")
        if isinstance(value, dict):
            rows += _metric_rows(value, f"{name} · ")
        elif isinstance(value, float):
            rows.append((name, f"{value:.3f}"))
        elif isinstance(value, list):
            rows.append((name, json.dumps(value)[:120]))
        else:
            rows.append((name, str(value)))
    return rows


def card_html(model, model_problem: str = "") -> str:
    if model is None:
        return ("<h3>No model installed</h3><p>" + html.escape(model_problem or
                "No fracture model is installed, so images are listed but not scored.") + "</p>")
    c = model.card
    parts = [f"<h3>{html.escape(c.name)} — version {html.escape(c.version)}</h3>"]
    parts.append("<p><b>A triage aid that orders a worklist, not a diagnosis.</b></p>")
    if c.intended_use:
        parts.append(f"<p><b>Intended use.</b> {html.escape(c.intended_use)}</p>")
    parts.append(f"<p><b>Thresholds.</b> suspicious ≥ {c.thresholds.suspicious:.2f}, definite ≥ "
                 f"{c.thresholds.definite:.2f} (fracture probability)</p>")
    rows = _metric_rows(c.metrics or {})
    if rows:
        parts.append("<p><b>Metrics</b></p><table cellspacing='0' cellpadding='3'>" + "".join(
            f"<tr><td style='color:#97a1ab; padding-right:14px'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
            for k, v in rows) + "</table>")
    parts.append(f"<p><b>Input.</b> {c.input_size}×{c.input_size} greyscale, {html.escape(c.preprocessing)}; "
                 f"heatmap: {'yes' if c.has_cam else 'no'}</p>")
    gate = next((line for line in c.summary_lines() if line.startswith("scope gate:")), "")
    if gate:
        parts.append(f"<p><b>Scope gate.</b> {html.escape(gate.split(':', 1)[1].strip())}. Images out of the "
                     "model's scope (CT, MR, chest films, photographs, incomplete images …) are never flagged and are "
                     "listed under “Out of scope” with the reason.</p>")
    if c.data_credit:
        parts.append(f"<p><b>Data.</b> {html.escape(c.data_credit)}</p>")
    from core.demo import FRACATLAS_CREDIT as DEMO_CREDIT

    parts.append(f"<p><b>Demo images.</b> Twelve radiographs from {html.escape(DEMO_CREDIT)}; real films "
                 "from the pydicom-data package (MIT) when it is installed.</p>")
    parts.append(f"<p style='color:#97a1ab'>Model file: {html.escape(str(model.path))}<br>sha256 {c.sha256}</p>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(self, model, model_problem: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.resize(620, 560)
        lay = QVBoxLayout(self)
        head = QLabel(f"<h2 style='margin:0'>{APP_NAME}</h2><span style='color:#97a1ab'>version {app_version()} — "
                      "fracture triage of X-rays on this computer; no image leaves it.</span><br>"
                      f"Free software under the GNU General Public License, version 3 or later ({APP_LICENCE}); "
                      "it comes with no warranty. The libraries it ships with keep their own licences.")
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(head)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(True)
        self.card.setHtml(card_html(model, model_problem) + f"<hr><p style='color:#97a1ab'>{FRACATLAS_CREDIT}</p>")
        lay.addWidget(self.card, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.licences_button = QPushButton("Licences…")
        buttons.addButton(self.licences_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.licences_button.clicked.connect(self.show_licences)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)

    def show_licences(self) -> "LicencesDialog":
        dlg = LicencesDialog(self)
        dlg.show()
        return dlg


class LicencesDialog(QDialog):
    """The app's licence text and the third-party notices (the bundle's file, or generated from the
    installed distributions in a source install), as plain text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        from core.licences import licence_text, notices_text

        super().__init__(parent)
        self.setWindowTitle("Licences")
        self.resize(760, 620)
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget(self)
        self.licence = QPlainTextEdit(licence_text())
        self.notices = QPlainTextEdit(notices_text())
        for w in (self.licence, self.notices):
            w.setReadOnly(True)
        self.tabs.addTab(self.licence, f"{APP_NAME} ({APP_LICENCE})")
        self.tabs.addTab(self.notices, "Third-party software")
        lay.addWidget(self.tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
