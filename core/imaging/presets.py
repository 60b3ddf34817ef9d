"""The viewer's window presets for one image, in the order a reader expects them: first the image as
read, then every other window the DICOM file provides (Window Center/Width, multi-valued, named by
Window Center & Width Explanation), then the data-driven ones (full range, high contrast, bone
detail) computed from the values window/level works on (DICOM modality values, else the 8-bit image).

Each preset carries the VOI LUT function it is applied with: the file's windows keep the file's
function (LINEAR / LINEAR_EXACT / SIGMOID — a SIGMOID image keeps its look under every file window
and when the reader drags from one), the data-driven ones are LINEAR ranges (their ends map exactly
to black and white). The desktop only wraps these in a combo box and keys 1–9.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from core.imaging.window import range_window

Window = tuple[float, float]  # (center, width)
AS_ACQUIRED = "As acquired"
DATA_PRESETS = ("Full range", "High contrast", "Bone detail")
PRESET_NAMES = (AS_ACQUIRED,) + DATA_PRESETS  # an image without windows of its own
FILE, DATA, AS_READ = "file", "data", "as_read"


@dataclass(frozen=True)
class Preset:
    name: str
    window: Optional[Window]  # None: the image exactly as read (the reader's own rendering)
    function: str = "LINEAR"  # the VOI LUT function the window is applied with (and dragged with)
    source: str = DATA  # FILE: a window of the DICOM file; DATA: from the values; AS_READ: as read

    @property
    def label(self) -> str:
        """How a menu shows it: a file's window says where it comes from."""
        return f"{self.name} (file)" if self.source == FILE else self.name


def file_window_name(explanation: Optional[str], number: int) -> str:
    """A file window's name: its explanation (trimmed, at most 40 characters), else "Window N"."""
    text = " ".join(str(explanation or "").split())[:40]
    return text or f"Window {number}"


def compute_presets(src: np.ndarray, as_read: Optional[Window], inverted: bool = False, *,
                    file_windows: Sequence[tuple[str, Window]] = (), function: str = "LINEAR",
                    as_read_name: Optional[str] = None) -> list[Preset]:
    """The presets of one image.

    ``as_read``: the window that made the image as read (None: not a window, e.g. a VOI LUT sequence
    or an 8-bit image) — the first preset always shows the image as read; when ``as_read`` is the
    file's first window it is named after it. ``file_windows``: (name, window) of every window in the
    file, in file order; ``function``: the file's VOI LUT function. ``inverted``: the values are shown
    inverted (MONOCHROME1), so bone is at the LOW end of ``src``. Percentiles come from a grid sample
    of at most ~256×256 values (fast on 4000² images)."""
    src = np.asarray(src)
    if src.ndim != 2 or src.size == 0:
        raise ValueError(f"window presets need a 2-D image, got shape {src.shape}")
    fn = (function or "LINEAR").upper()
    files = [(name, (float(c), float(w))) for name, (c, w) in file_windows]
    out: list[Preset] = []
    if files and as_read is not None and _same(files[0][1], as_read):
        out.append(Preset(files[0][0], None, fn, FILE))
        files = files[1:]
    else:
        out.append(Preset(as_read_name or AS_ACQUIRED, None, fn if as_read is not None else "LINEAR", AS_READ))
    out.extend(Preset(name, win, fn if fn in ("LINEAR", "LINEAR_EXACT", "SIGMOID") else "LINEAR", FILE)
               for name, win in files)
    sample = src[:: max(1, src.shape[0] // 256), :: max(1, src.shape[1] // 256)].astype(np.float32, copy=False)
    lo, p03, p2, p45, p55, p98, p997, hi = np.percentile(sample, [0, 0.3, 2, 45, 55, 98, 99.7, 100])
    bone = range_window(p03, max(p55, p03 + 1)) if inverted else range_window(p45, max(p997, p45 + 1))
    data = (range_window(lo, max(hi, lo + 1)), range_window(p2, max(p98, p2 + 1)), bone)
    out.extend(Preset(name, win, "LINEAR", DATA) for name, win in zip(DATA_PRESETS, data))
    return out


def _same(a: Window, b: Window) -> bool:
    return abs(a[0] - b[0]) < 1e-6 and abs(a[1] - b[1]) < 1e-6
