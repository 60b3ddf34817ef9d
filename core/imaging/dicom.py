"""DICOM reading with pydicom's own pixel tools: content sniffing (``is_dicom``), files with or
without the file meta header, compressed transfer syntaxes through the installed pixel backends
(pylibjpeg + libjpeg/openjpeg/rle plugins, Pillow; deflate is inflated by pydicom itself), first
frame only of multi-frame images (decoded alone), modality LUT (Rescale Slope/Intercept or Modality
LUT Sequence), VOI LUT sequence or Window Center/Width (first of several values; VOI LUT Function
honoured; the data's own range when there is none; every window of the file is kept, named by its
explanation, for the viewer's presets), MONOCHROME1 and Presentation LUT Shape INVERSE shown
inverted so bone is bright, a Presentation LUT Sequence applied by pydicom's
``apply_presentation_lut`` (as a 256-entry curve after the window: ``presentation_curve``), colour
converted to grey. For the model input only (``reduce_to``),
a JPEG 2000 frame much larger than the input is decoded at a reduced wavelet level by openjpeg
through Pillow (about 10× faster on a 2000² radiograph); the viewer always decodes in full.

Only non-identifying attributes go into ``DicomMeta``; patient name/ID/birth date and study date go
into ``DecodedImage.screen_only`` for on-screen display only. Header sizes are checked before any
pixel access (``core.imaging.decoded``); native pixel data shorter than one frame is refused.
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np

from core.imaging.codestream import check_codestream_size, j2k_reduced
from core.imaging.decoded import DecodedImage, check_dimensions, make_meta, rgb_chroma_share
from core.imaging.errors import FileError
from core.imaging.presets import file_window_name
from core.imaging.window import IDENTITY_WINDOW, apply_window, range_window
from core.results import DicomMeta

_VRS = frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
_PLUGIN_HINT = {
    "JPEG-LS": "pylibjpeg-libjpeg",
    "JPEG 2000": "pylibjpeg-openjpeg",
    "JPEG": "pylibjpeg-libjpeg",
    "RLE": "pylibjpeg-rle",
}
_SCREEN_ONLY = ("PatientName", "PatientID", "PatientBirthDate", "StudyDate")


# groups a headerless dataset may start with: meta, identification, patient, acquisition,
# relationship, image pixel description (an anonymised or minimal file may lack the earlier ones)
_FIRST_GROUPS = frozenset({0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028})
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ UC UN UR UT".split())
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # the SOP class of a DICOMDIR


def _walk(head: bytes, explicit: bool, limit: int = 6) -> tuple[list[int], bool]:
    """The first ``limit`` element tags of a little-endian dataset in ``head``, and whether the walk
    stayed consistent (tags increasing, lengths that fit; an element may run past the bytes seen)."""
    pos, last, tags = 0, -1, []
    while pos + 8 <= len(head) and len(tags) < limit:
        g, e = struct.unpack_from("<HH", head, pos)
        if explicit:
            vr = head[pos + 4:pos + 6]
            if vr not in _VRS:
                return tags, False
            if vr in _LONG_VRS:
                if pos + 12 > len(head):
                    break
                length, header = struct.unpack_from("<I", head, pos + 8)[0], 12
            else:
                length, header = struct.unpack_from("<H", head, pos + 6)[0], 8
        else:
            length, header = struct.unpack_from("<I", head, pos + 4)[0], 8
        tag = (g << 16) | e
        if tag <= last:
            return tags, False
        undefined = length == 0xFFFFFFFF
        if undefined and not (explicit and vr in (b"SQ", b"UN", b"OB")) and tag != 0x7FE00010:
            return tags, False
        if not undefined and length > 0x10000 and g != 0x7FE0:
            return tags, False
        tags.append(tag)
        last = tag
        if undefined:  # a sequence or encapsulated pixel data: what was seen is consistent
            break
        pos += header + length
    return tags, True


def is_dicom(head: bytes) -> bool:
    """True for 'DICM' at offset 128 (Part 10 file) or a plausible headerless little-endian dataset:
    its first element in group 0002/0008 with an explicit VR; or a consistent run of elements
    (increasing tags, lengths that fit; explicit or implicit VR) that starts in group 0002/0008 (two
    elements, or one running past the bytes seen), or starts in another early group (0010, 0018,
    0020, 0028) and reaches the image pixel description (group 0028) within its first four elements."""
    head = bytes(head[:1024])
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group = struct.unpack_from("<H", head, 0)[0]
    if group not in _FIRST_GROUPS:
        return False
    explicit = head[4:6] in _VRS
    if explicit and group in (0x0002, 0x0008):
        return True
    for mode in ((True, False) if explicit else (False,)):
        tags, ok = _walk(head, mode)
        if not ok or not tags:
            continue
        if group in (0x0002, 0x0008):
            if len(tags) >= 2 or not mode:
                # one implicit element that runs past the bytes seen (the walk ended without a 2nd)
                if len(tags) >= 2 or _runs_past(head):
                    return True
            continue
        if len(tags) >= 2 and 0x0028 in [t >> 16 for t in tags[:4]]:
            return True
    return False


def _runs_past(head: bytes) -> bool:
    length = struct.unpack_from("<I", head, 4)[0]
    return length != 0xFFFFFFFF and 8 + length >= len(head)


def is_dicomdir(head: bytes) -> bool:
    """True when ``head`` (the first KiB or more of a file) is a DICOMDIR: a Part 10 file whose media
    storage SOP class is the Media Storage Directory — an index of other files, never an image."""
    head = bytes(head[:2048])
    if len(head) < 132 or head[128:132] != b"DICM":
        return False
    pos = 132
    while pos + 8 <= len(head):
        g, e = struct.unpack_from("<HH", head, pos)
        if g != 0x0002:
            return False
        vr = head[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(head):
                return False
            length, header = struct.unpack_from("<I", head, pos + 8)[0], 12
        else:
            length, header = struct.unpack_from("<H", head, pos + 6)[0], 8
        if e == 0x0002:
            value = head[pos + header:pos + header + length]
            return value.rstrip(b"\x00 ").decode("ascii", "replace") == MEDIA_STORAGE_DIRECTORY
        pos += header + length
    return False


def decode_dicom(data: bytes, *, keep_raw: bool = False, sniffed: bool = True,
                 reduce_to: int | None = None) -> DecodedImage:
    """Decode a DICOM file's first frame. ``reduce_to``: a JPEG 2000 frame much larger than that is
    decoded at a reduced wavelet level (``core.imaging.codestream.j2k_reduced``) keeping the long side ≥ ``reduce_to``; the
    image is then ``reduced`` (width/height stay the full size). Everything else decodes in full."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    notes: list[str] = []
    try:
        ds = dcmread(io.BytesIO(data))
    except InvalidDicomError:
        try:
            ds = dcmread(io.BytesIO(data), force=True)
            _ = ds.get("SOPClassUID"), ds.get("PixelData"), ds.get("Rows")  # parse now: garbage fails here
        except Exception:  # noqa: BLE001
            if not sniffed:
                raise FileError("not an image file (named like DICOM but not a DICOM dataset)",
                                FileError.NOT_AN_IMAGE) from None
            raise
        if "PixelData" not in ds and "SOPClassUID" not in ds:
            raise FileError("not an image file (not a DICOM dataset)", FileError.NOT_AN_IMAGE)
    _check_pixel_data_present(ds)
    missing = [k for k in ("Rows", "Columns", "BitsAllocated") if k not in ds]
    if missing:
        raise FileError(f"damaged DICOM: {', '.join(missing)} missing from its header", FileError.CORRUPT)
    ts, guessed = _transfer_syntax(ds)
    if guessed:
        notes.append(f"no DICOM file meta header (read as {ts.name})")
    rows, cols = int(ds.Rows), int(ds.Columns)
    frames = _int(ds.get("NumberOfFrames"), 1) or 1
    spp = _int(ds.get("SamplesPerPixel"), 1) or 1
    bits = _int(ds.get("BitsAllocated"), 0)
    check_dimensions(cols, rows, what="DICOM image")
    if frames > 100_000 or spp not in (1, 3, 4) or bits not in (1, 8, 16, 32, 64):
        raise FileError(f"DICOM header is inconsistent (frames {frames}, samples {spp}, bits {bits})", FileError.CORRUPT)
    if not ts.is_encapsulated:
        from pydicom.pixels.utils import get_expected_length

        frame_bytes = math.ceil(get_expected_length(ds, unit="bytes") / frames)  # YBR_FULL_422 aware
        have = len(ds.PixelData)
        if have < frame_bytes:
            raise FileError(
                f"truncated DICOM: pixel data has {have:,} bytes, one {cols}×{rows} frame needs {frame_bytes:,}",
                FileError.TRUNCATED,
            )
        if frames > 1 and have < frame_bytes * frames:
            ds.NumberOfFrames = max(1, have // frame_bytes)
            notes.append(f"pixel data holds only {ds.NumberOfFrames} of {frames} frames")
    else:
        _require_decoder(ts)
        check_codestream_size(ds, ts, frames, cols, rows)
    if frames > 1:
        notes.append(f"first frame of {frames} (multi-frame DICOM)")

    from pydicom.pixels import pixel_array

    arr = None
    if reduce_to and spp == 1 and "JPEG 2000" in ts.name and "High-Throughput" not in ts.name:
        arr = j2k_reduced(ds, frames, int(reduce_to), bits)
    reduced = arr is not None
    try:
        if arr is None:
            arr = pixel_array(ds, index=0 if frames > 1 else None)
    except (KeyboardInterrupt, SystemExit, MemoryError, FileError):
        raise
    except BaseException as exc:  # noqa: BLE001 - decoders raise anything, Rust ones even PanicException
        detail = " ".join(str(exc).split())
        detail = detail.split("plugins:", 1)[-1].strip() or type(exc).__name__
        raise FileError(f"damaged DICOM: its {ts.name} pixel data cannot be decoded ({detail[:160]})",
                        FileError.CORRUPT) from None
    if arr.ndim == 3 and arr.shape[0] == 1 and spp == 1:
        arr = arr[0]
    pi = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    inverted = pi == "MONOCHROME1" or str(ds.get("PresentationLUTShape", "")).strip().upper() == "INVERSE"
    curve = presentation_curve(ds)
    if curve is not None:  # the Presentation LUT maps the window's output to P-values (0 black) itself
        inverted = False
    window = None
    function = "LINEAR"
    raw = None
    colour_share = None
    if arr.ndim == 3 or pi in ("PALETTE COLOR",) or spp > 1:
        grey, raw, window, colour_share = _colour_to_grey(arr, ds, pi)
        notes.append("colour image converted to grey")
        inverted, curve = False, None
    else:
        grey, raw, window, function, note = _monochrome(arr, ds, inverted, keep_raw)
        if note:
            notes.append(note)
        if curve is not None:
            grey = curve[grey]
            notes.append("shown through the file's Presentation LUT")
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    h, w = (rows, cols) if reduced else grey.shape
    dmeta = DicomMeta(
        study_uid=_text(ds, "StudyInstanceUID"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        sop_uid=_text(ds, "SOPInstanceUID"),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
    )
    screen = {k: v for k in _SCREEN_ONLY if (v := _text(ds, k))}
    return DecodedImage(
        grey=grey,
        width=w,
        height=h,
        format="DICOM",
        notes=tuple(notes),
        reduced=reduced,
        meta=make_meta(w, h, "DICOM", tuple(notes), dmeta),
        raw=np.asarray(raw, dtype=np.float32) if keep_raw and raw is not None else None,
        window=window,
        inverted=inverted,
        screen_only=screen,
        window_function=function,
        file_windows=file_windows(ds) if colour_share is None else (),
        presentation_lut=curve,
        colour_share=colour_share,
        scope_tags=_scope_tags(ds, frames),
    )


_DESCRIPTIONS = ("StudyDescription", "SeriesDescription", "ProtocolName", "RequestedProcedureDescription",
                 "PerformedProcedureStepDescription")


def _scope_tags(ds, frames: int) -> dict:
    """What the scope gate reads besides Modality/BodyPartExamined (held in memory only, never stored)."""
    sop = ds.get("SOPClassUID")
    try:
        from pydicom.uid import UID

        sop_name = UID(str(sop)).name if sop else None
    except Exception:  # noqa: BLE001 - a malformed UID only loses the hint
        sop_name = None
    return {
        "descriptions": tuple(t for k in _DESCRIPTIONS if (t := _text(ds, k))),
        "sop_class": sop_name,
        "frames": int(frames),
    }


def _monochrome(arr: np.ndarray, ds, inverted: bool, keep_raw: bool):
    """Stored values → (grey, modality values or None, window, VOI function, note).

    8/16-bit integers (nearly every radiograph) go through a lookup table: pydicom's modality and
    VOI transforms run once on every possible stored value and the image is rendered with one
    indexing pass, instead of several float passes over millions of pixels."""
    from pydicom.pixels import apply_modality_lut

    if arr.dtype.kind in "ui" and arr.dtype.itemsize <= 2:
        unsigned = np.dtype(f"u{arr.dtype.itemsize}")
        values = np.arange(256 ** arr.dtype.itemsize, dtype=np.int64).astype(unsigned).view(arr.dtype)
        mod_t = apply_modality_lut(values, ds)
        lo, hi = arr.min(), arr.max()
        present = mod_t[(values >= lo) & (values <= hi)]
        grey_t, window, fn, note = _render(mod_t, ds, inverted, _finite_range(present))
        index = arr.view(unsigned)
        raw = np.asarray(mod_t, dtype=np.float32)[index] if keep_raw else None
        return grey_t[index], raw, window, fn, note
    mod = apply_modality_lut(arr, ds)
    grey, window, fn, note = _render(mod, ds, inverted, _finite_range(mod))
    return grey, mod if keep_raw else None, window, fn, note


def _render(mod: np.ndarray, ds, inverted: bool, data_range: tuple[float, float]):
    """Modality values → (uint8 grey, window, function, note): VOI LUT sequence, else the first
    Window Center/Width (with its VOI LUT Function), else the data range."""
    from pydicom.pixels import apply_voi_lut

    seq = ds.get("VOILUTSequence")
    if seq:
        voi = apply_voi_lut(mod, ds, index=0, prefer_lut=True)
        lo, hi = _lut_range(seq[0].LUTData, voi)
        return apply_window(voi, *range_window(lo, hi), inverted), None, "LUT", "windowed with the file's VOI LUT"
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width is not None and width > 0 and math.isfinite(center) and math.isfinite(width):
        fn = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        if fn not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
            fn = "LINEAR"
        return apply_window(mod, center, width, inverted, function=fn), (center, width), fn, None
    win = range_window(*data_range)
    return apply_window(mod, *win, inverted), win, "LINEAR", "no window in the file: shown over its data range"


def file_windows(ds) -> tuple[tuple[str, tuple[float, float]], ...]:
    """Every usable window of the file: (name, (center, width)) for each Window Center/Width pair, in
    file order, named by its Window Center & Width Explanation (else "Window N"). Pairs with a
    missing, non-finite or non-positive value are left out (the others keep their names)."""
    centers, widths = _values(ds.get("WindowCenter")), _values(ds.get("WindowWidth"))
    names = ds.get("WindowCenterWidthExplanation")
    if names is None or isinstance(names, (str, bytes)):
        names = [names]
    names = list(names)
    out = []
    for i, (c, w) in enumerate(zip(centers, widths)):
        if c is None or w is None or not (math.isfinite(c) and math.isfinite(w)) or w <= 0:
            continue
        out.append((file_window_name(names[i] if i < len(names) else None, i + 1), (c, w)))
    return tuple(out)


def presentation_curve(ds) -> np.ndarray | None:
    """The file's Presentation LUT Sequence as a 256-entry uint8 curve from the window's 8-bit output
    to display values (pydicom's ``apply_presentation_lut`` on the 0..255 ramp, its P-values scaled to
    0..255 from the LUT's bit depth); None when the file has none or it cannot be used."""
    seq = ds.get("PresentationLUTSequence")
    if not seq:
        return None
    try:
        from pydicom.pixels import apply_presentation_lut

        bits = int(seq[0].LUTDescriptor[2])
        if not 1 <= bits <= 16:
            return None
        p = apply_presentation_lut(np.arange(256, dtype=np.uint16), ds).astype(np.float64)
        if p.shape != (256,):
            return None
        return np.clip(np.rint(p * (255.0 / (2 ** bits - 1))), 0, 255).astype(np.uint8)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - a malformed LUT: shown without it (the window still applies)
        return None


def _values(value) -> list[float | None]:
    if value is None or value == "":
        return []
    if isinstance(value, (str, bytes, int, float)):
        value = [value]
    out: list[float | None] = []
    for v in value:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(None)
    return out


def _lut_range(data, voi: np.ndarray) -> tuple[float, float]:
    """Output range of a VOI LUT (its entries are 16-bit words when stored as OW bytes)."""
    if isinstance(data, (bytes, bytearray)):
        lut = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2")
    else:
        lut = np.asarray([data] if isinstance(data, (int, float)) else list(data), dtype=np.float64)
    if lut.size == 0:
        return _finite_range(voi)
    return float(lut.min()), float(lut.max())


def _colour_to_grey(arr: np.ndarray, ds, pi: str):
    if pi == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    rgb = arr[..., :3].astype(np.float32)
    share = rgb_chroma_share(rgb)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    if arr.dtype == np.uint8:
        return np.rint(luma).astype(np.uint8), luma, IDENTITY_WINDOW, share
    lo, hi = _finite_range(luma)
    win = range_window(lo, hi)
    return apply_window(luma, *win), luma, win, share


def _check_pixel_data_present(ds) -> None:
    meta = getattr(ds, "file_meta", None)
    sop = str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else "") or "")
    if sop == MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds:
        raise FileError("DICOM directory (DICOMDIR): an index of the files on DICOM media, not an image",
                        FileError.NOT_AN_IMAGE)
    if "PixelData" in ds:
        return
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        raise FileError("DICOM float pixel data is not supported", FileError.UNSUPPORTED)
    if len(ds) == 0:  # pydicom drops a data set whose last element runs past the end of the file
        raise FileError("truncated DICOM: no complete data set in the file", FileError.TRUNCATED)
    from pydicom.uid import UID

    sop = ds.get("SOPClassUID")
    name = UID(str(sop)).name if sop else ""
    if "Rows" in ds or "Image Storage" in name:  # an image whose pixel data is cut off
        raise FileError("truncated DICOM: the file ends before its pixel data", FileError.TRUNCATED)
    modality = str(ds.get("Modality", "")).upper()
    if modality == "SR" or " SR " in f" {name} " or "Structured Report" in name:
        what = "structured report"
    elif name and name != str(sop):
        what = name
    else:
        what = "no image in this file"
    raise FileError(f"DICOM has no pixel data ({what})", FileError.NO_PIXEL_DATA)


def _transfer_syntax(ds):
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    guessed = not uid
    if guessed:
        implicit, little = getattr(ds, "original_encoding", (True, True))
        uid = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
        if meta is None:
            ds.file_meta = meta = FileMetaDataset()
        meta.TransferSyntaxUID = uid
    uid = UID(str(uid))
    if not uid.is_transfer_syntax:
        raise FileError(f"transfer syntax {uid} is unknown, no decoder for it is installed", FileError.MISSING_DECODER)
    return uid, guessed


def _require_decoder(uid) -> None:
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        hint = next((pkg for key, pkg in _PLUGIN_HINT.items() if key in uid.name), "")
        raise FileError(
            f"transfer syntax {uid} ({uid.name}) needs a decoder that is not installed"
            + (f" (e.g. {hint})" if hint else ""),
            FileError.MISSING_DECODER,
        )


def _first(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, (str, bytes, int, float)):
            value = list(value)[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _int(value, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _finite_range(a: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(a)), float(np.max(a))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return lo, hi


def _text(ds, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None
