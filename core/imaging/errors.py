"""Typed per-file errors: every way a file can fail to become an image, as one exception type with a
human-readable reason and a machine-readable kind. Readers raise only ``FileError``; the single
boundary that converts everything else is ``core.imaging.reader.read_image``.
"""

from __future__ import annotations


class FileError(Exception):
    """A file that cannot be used as a radiograph. ``str(err)`` is the message shown to a clinician."""

    # Kinds (stable strings, stored in the database and the CSV)
    NOT_AN_IMAGE = "not_an_image"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    NO_PIXEL_DATA = "no_pixel_data"
    MISSING_DECODER = "missing_decoder"
    UNSUPPORTED = "unsupported"
    UNREADABLE = "unreadable"

    def __init__(self, reason: str, kind: str = "corrupt") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind

    def __reduce__(self):  # picklable across process pools
        return (type(self), (self.reason, self.kind))
