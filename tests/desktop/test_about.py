"""The About box names the licence and shows the licence text and the third-party notices."""

from __future__ import annotations


def test_about_shows_licence_and_notices(qtbot):
    from desktop.dialogs.about import AboutDialog

    dlg = AboutDialog(None, "no model for this test")
    qtbot.addWidget(dlg)
    labels = " ".join(w.text() for w in dlg.findChildren(__import__("PySide6.QtWidgets").QtWidgets.QLabel))
    assert "GPL-3.0-or-later" in labels
    lic = dlg.show_licences()
    qtbot.addWidget(lic)
    assert "GNU GENERAL PUBLIC LICENSE" in lic.licence.toPlainText()
    text = lic.notices.toPlainText()
    assert "pylibjpeg-libjpeg" in text and "PySide6_Essentials" in text and "onnxruntime" in text
