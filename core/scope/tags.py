"""DICOM tag rules of the scope gate: which modalities are projection radiographs of the kind the
model was trained on, and which body parts are in or out of its scope, with the usual spellings.

Modalities (decided here, documented in the README and model card):
  * in scope: CR, DX (computed/digital radiography), RG (radiographic film) and DR (not a DICOM
    code, but written by some vendors for digital radiography);
  * out of scope, each with its own reason: CT, MR, US, NM, PT, MG, IO/PX (dental), RF (fluoroscopy),
    XA (angiography), BMD (DXA), OP/XC/ES (photographs, endoscopy), SM/GM (microscopy), RTIMAGE and the
    other non-projection codes. RF and XA are projection X-ray images too, but fluoroscopy and
    angiography frames (low dose, contrast, instruments, C-arm geometry) are not what the model learned;
    a reader who disagrees marks such an image "in scope after all";
  * anything else (OT, SC, empty, unknown) decides nothing: the other checks still apply.
Body parts: BodyPartExamined first (DICOM defined terms and common variants, including joined forms
such as LOWERLIMB and a few German terms); study/series descriptions and the protocol name only when
the body part says nothing. Terms of both lists (e.g. "NECK SHOULDER") decide nothing; a joined
region name wins over the in-scope word inside it ("ABDOMEN PELVIS" is out). Reasons name
only a vocabulary term or the (coded) BodyPartExamined value, never free text from the file.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from core.scope.verdict import (
    KIND_BODY_PART,
    KIND_MODALITY,
    KIND_MULTI_FRAME,
    TAGS_IN,
    Verdict,
    out,
)

RADIOGRAPHIC = frozenset({"CR", "DX", "RG", "DR"})
MODALITY_REASONS = {
    "CT": "CT image",
    "MR": "MR image",
    "US": "ultrasound image",
    "IVUS": "intravascular ultrasound image",
    "NM": "nuclear medicine image",
    "PT": "PET image",
    "MG": "mammogram",
    "IO": "intra-oral dental radiograph",
    "PX": "panoramic dental radiograph",
    "DG": "diaphanography image",
    "RF": "fluoroscopy image (RF)",
    "XA": "angiography image (XA)",
    "BMD": "bone densitometry (DXA) image",
    "BDUS": "bone densitometry (ultrasound) image",
    "OP": "ophthalmic photograph",
    "OPT": "ophthalmic tomography image",
    "OCT": "optical coherence tomography image",
    "XC": "photograph (external camera)",
    "ES": "endoscopy image",
    "SM": "microscopy slide image",
    "GM": "microscopy image",
    "TG": "thermography image",
    "LS": "laser surface scan",
    "RTIMAGE": "radiotherapy portal image",
    "RTDOSE": "radiotherapy dose map",
    "ECG": "ECG waveform",
    "DOC": "document",
    "SEG": "segmentation object",
    "PR": "presentation state",
    "SR": "structured report",
    "KO": "key object selection",
}
# Named SOP classes that give the modality away when the Modality tag is missing
_SOP_HINTS = (
    ("CT ", "CT"), ("Computed Tomography", "CT"), ("MR ", "MR"), ("Magnetic Resonance", "MR"),
    ("Ultrasound", "US"), ("Mammography", "MG"), ("Positron Emission", "PT"), ("PET ", "PT"),
    ("Nuclear Medicine", "NM"), ("X-Ray Angiographic", "XA"), ("X-Ray Radiofluoroscopic", "RF"),
    ("Intra-oral", "IO"), ("Ophthalmic", "OP"), ("Endoscopic", "ES"), ("Microscopic", "SM"),
    ("Encapsulated PDF", "DOC"),
)

# body-part vocabulary: term -> canonical name; plural S stripped before look-up
IN_TERMS = {t: t for t in (
    "HAND", "WRIST", "FINGER", "THUMB", "CARPUS", "METACARPAL", "PHALANX", "SCAPHOID",
    "FOOT", "FEET", "ANKLE", "TOE", "HEEL", "CALCANEUS", "METATARSAL", "TARSAL",
    "KNEE", "PATELLA", "LEG", "TIBIA", "FIBULA", "FEMUR", "THIGH",
    "HIP", "PELVIS", "ACETABULUM", "SHOULDER", "CLAVICLE", "SCAPULA", "HUMERUS",
    "ELBOW", "ARM", "FOREARM", "RADIUS", "ULNA", "OLECRANON",
    "EXTREMITY", "EXTREMITIE", "LIMB", "LOWERLIMB", "UPPERLIMB", "LOWEREXTREMITY", "UPPEREXTREMITY",
    "LOWERLEG", "UPPERARM", "LEXTREMITY", "UEXTREMITY",
)}
IN_TERMS.update({  # adjectives: "FEMORAL HEAD", "HUMERAL NECK" are hip and shoulder, not head and neck
    "FEMORAL": "FEMUR", "HUMERAL": "HUMERUS", "RADIAL": "RADIUS", "ULNAR": "ULNA", "TIBIAL": "TIBIA",
    "CARPAL": "WRIST", "PATELLAR": "PATELLA", "DIGIT": "FINGER", "MALLEOLUS": "ANKLE", "TROCHANTER": "FEMUR",
})
IN_TERMS.update({  # common non-English spellings of BodyPartExamined
    "HANDGELENK": "WRIST", "FUSS": "FOOT", "KNIE": "KNEE", "SCHULTER": "SHOULDER", "HUEFTE": "HIP",
    "HÜFTE": "HIP", "BECKEN": "PELVIS", "ELLENBOGEN": "ELBOW", "UNTERSCHENKEL": "LEG",
    "OBERSCHENKEL": "FEMUR", "SPRUNGGELENK": "ANKLE", "ZEHE": "TOE", "UNTERARM": "FOREARM",
    "OBERARM": "HUMERUS", "POIGNET": "WRIST", "GENOU": "KNEE", "EPAULE": "SHOULDER", "HANCHE": "HIP",
    "CHEVILLE": "ANKLE", "COUDE": "ELBOW", "BASSIN": "PELVIS",
    "FINGERS": "FINGER", "TOES": "TOE", "EXTREMITIES": "EXTREMITY",
})
CHEST_TERMS = frozenset({"CHEST", "THORAX", "LUNG", "RIB", "STERNUM", "THORACIC", "PA CHEST", "CXR", "THORAKS",
                         "BRUSTKORB", "THORAKAL"})
OUT_TERMS = frozenset({
    "CHEST", "THORAX", "LUNG", "RIB", "STERNUM", "CXR", "SKULL", "HEAD", "BRAIN", "FACE", "FACIAL", "SINUS",
    "ORBIT", "NOSE", "NASAL", "MANDIBLE", "MAXILLA", "JAW", "TMJ", "TOOTH", "TEETH", "DENTAL", "NECK",
    "SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "CERVICAL", "LUMBAR", "VERTEBRA", "ABDOMEN", "ABD",
    "KUB", "BREAST", "MAMMA", "HEART", "CARDIAC", "CORONARY", "WHOLEBODY", "CHESTABDOMEN", "ABDOMENPELVIS",
    "CHESTABDPELVIS", "HEADNECK", "LIVER", "KIDNEY", "RENAL", "BLADDER", "UTERUS", "PROSTATE", "THYROID",
    "EYE", "EAR", "SCHAEDEL", "SCHÄDEL", "KOPF", "WIRBELSAEULE", "ABDOMEN", "CRANE", "RACHIS", "THORAKS",
})
_JOINED_OUT = ("CSPINE", "TSPINE", "LSPINE", "WHOLEBODY", "CHESTABDOMEN", "ABDOMENPELVIS", "CHESTABDPELVIS",
               "HEADNECK")
_JOINED_IN = ("LOWERLIMB", "UPPERLIMB", "LOWEREXTREMITY", "UPPEREXTREMITY", "LOWERLEG", "UPPERARM")
_WEAK_OUT = frozenset({"HEAD", "NECK"})
_SPLIT = re.compile(r"[^0-9A-ZÄÖÜ]+")


def _words(text: Optional[str]) -> list[str]:
    if not text:
        return []
    up = str(text).upper()
    words = [w for w in _SPLIT.split(up) if w]
    joined = re.sub(r"[^A-Z]", "", up)
    words += [j for j in _JOINED_OUT + _JOINED_IN if j in joined and j not in words]
    out_words = []
    for w in words:
        out_words.append(w)
        if len(w) > 3 and w.endswith("S"):
            out_words.append(w[:-1])
    return out_words


def classify_terms(texts: Iterable[Optional[str]]) -> tuple[set[str], set[str]]:
    """(in-scope terms, out-of-scope terms) found in ``texts`` (canonical vocabulary words only)."""
    found_in: set[str] = set()
    found_out: set[str] = set()
    for text in texts:
        for w in _words(text):
            if w in IN_TERMS:
                found_in.add(IN_TERMS[w])
            elif w in OUT_TERMS:
                found_out.add(w)
    # "head" and "neck" beside a limb word are parts of that bone (femoral head, humeral neck)
    if found_in:
        found_out -= _WEAK_OUT
    # a joined out-of-scope name (ABDOMENPELVIS) holds an in-scope word: the joined form wins
    if found_out & set(_JOINED_OUT) and found_in == {"PELVIS"}:
        found_in.clear()
    return found_in, found_out


def modality_from_sop(sop_class_name: Optional[str]) -> Optional[str]:
    if not sop_class_name:
        return None
    for needle, code in _SOP_HINTS:
        if needle in sop_class_name + " ":
            return code
    return None


def _part_reason(outs: set[str], radiographic: bool, source: str, value: Optional[str] = None) -> str:
    if outs & CHEST_TERMS:
        return "chest radiograph" if radiographic else f"chest image ({source})"
    name = value if value else sorted(outs)[0]
    return f"body part {name} is outside the model's scope" + ("" if source == "body part" else f" ({source})")


def tag_verdict(*, modality: Optional[str], body_part: Optional[str], descriptions: Iterable[Optional[str]] = (),
                sop_class_name: Optional[str] = None, frames: int = 1) -> Optional[Verdict]:
    """The verdict the DICOM tags support, or None when they decide nothing (the other checks go on)."""
    code = (modality or "").strip().upper() or None
    if code is None:
        code = modality_from_sop(sop_class_name)
    if code in MODALITY_REASONS:
        return out(MODALITY_REASONS[code], KIND_MODALITY)
    radiographic = code in RADIOGRAPHIC
    if frames and int(frames) > 1:
        return out(f"multi-frame image ({int(frames)} frames), not a single radiograph", KIND_MULTI_FRAME)
    part_in, part_out = classify_terms([body_part])
    if part_out and not part_in:
        value = re.sub(r"[^0-9A-Z _-]", "", str(body_part).upper()).strip()[:16] or None
        return out(_part_reason(part_out, radiographic, "body part", value), KIND_BODY_PART)
    if part_in and not part_out:
        return TAGS_IN if radiographic else None
    desc_in, desc_out = classify_terms(descriptions)
    if desc_out and not desc_in:
        return out(_part_reason(desc_out, radiographic, "from the study/series description"), KIND_BODY_PART)
    if desc_in and not desc_out and radiographic:
        return TAGS_IN
    return None
