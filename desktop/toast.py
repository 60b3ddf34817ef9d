"""A brief, unobtrusive confirmation ("Fracture recorded — IMG0001.jpg") at the bottom of the viewer,
fading out on its own; it never takes focus or blocks a key."""

from __future__ import annotations

from PySide6.QtCore import QEasingCurve, QPropertyAnimation, Qt, QTimer
from PySide6.QtWidgets import QGraphicsOpacityEffect, QLabel, QWidget


class Toast(QLabel):
    def __init__(self, parent: QWidget, duration_ms: int = 1600) -> None:
        super().__init__(parent)
        self.setObjectName("toast")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("QLabel#toast { background: rgba(30,36,42,230); color: #e6ebf0; border: 1px solid #3b454f;"
                           " border-radius: 6px; padding: 7px 16px; font-size: 11pt; }")
        self._effect = QGraphicsOpacityEffect(self)
        self.setGraphicsEffect(self._effect)
        self._fade = QPropertyAnimation(self._effect, b"opacity", self)
        self._fade.setDuration(350)
        self._fade.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._fade.finished.connect(self._faded)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start_fade)
        self._duration = duration_ms
        self.hide()

    def show_message(self, html: str, accent: str = "#3d8fd1") -> None:
        self._fade.stop()
        self._effect.setOpacity(1.0)
        self.setStyleSheet(
            "QLabel#toast { background: rgba(30,36,42,235); color: #e6ebf0; border: 1px solid #3b454f;"
            f" border-left: 4px solid {accent}; border-radius: 6px; padding: 7px 16px; font-size: 11pt; }}")
        self.setText(html)
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()
        self._timer.start(self._duration)

    def _place(self) -> None:
        p = self.parentWidget()
        if p is not None:
            self.move((p.width() - self.width()) // 2, p.height() - self.height() - 28)

    def _start_fade(self) -> None:
        self._fade.setStartValue(1.0)
        self._fade.setEndValue(0.0)
        self._fade.start()

    def _faded(self) -> None:
        if self._effect.opacity() <= 0.01:
            self.hide()
