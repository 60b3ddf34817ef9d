"""DICOM tag rules: modalities, body parts with their spellings, descriptions, multi-frame."""

import pytest

from core.scope.tags import MODALITY_REASONS, RADIOGRAPHIC, classify_terms, tag_verdict
from core.scope.verdict import IN_SCOPE, KIND_TAGS_IN, OUT_OF_SCOPE


def verdict(modality="DX", body_part=None, descriptions=(), sop=None, frames=1):
    return tag_verdict(modality=modality, body_part=body_part, descriptions=descriptions,
                       sop_class_name=sop, frames=frames)


@pytest.mark.parametrize("code,reason", [("CT", "CT image"), ("MR", "MR image"), ("US", "ultrasound image"),
                                         ("PT", "PET image"), ("MG", "mammogram"), ("PX", "panoramic dental radiograph"),
                                         ("rf", "fluoroscopy image (RF)"), (" XA ", "angiography image (XA)")])
def test_non_radiograph_modalities_are_out_with_their_name(code, reason):
    v = verdict(code, body_part="HAND")  # the modality wins even over an in-scope body part
    assert v.scope == OUT_OF_SCOPE and v.reason == reason and v.settled


@pytest.mark.parametrize("code", sorted(RADIOGRAPHIC))
@pytest.mark.parametrize("part", ["HAND", "WRIST", "FINGER", "FOOT", "ANKLE", "KNEE", "LEG", "TIBIA", "FEMUR",
                                  "HIP", "PELVIS", "SHOULDER", "ELBOW", "ARM", "EXTREMITY", "LOWER LIMB",
                                  "LOWERLIMB", "UPPER_EXTREMITY", "Hand", "fingers", "KNIE", "HÜFTE"])
def test_radiographs_of_in_scope_parts_are_settled_in_scope(code, part):
    v = verdict(code, body_part=part)
    assert v.scope == IN_SCOPE and v.kind == KIND_TAGS_IN and v.settled


@pytest.mark.parametrize("part,reason", [("CHEST", "chest radiograph"), ("THORAX", "chest radiograph"),
                                         ("SKULL", "body part SKULL is outside the model's scope"),
                                         ("CSPINE", "body part CSPINE is outside the model's scope"),
                                         ("ABDOMEN", "body part ABDOMEN is outside the model's scope")])
def test_out_of_scope_body_parts(part, reason):
    v = verdict("CR", body_part=part)
    assert v.scope == OUT_OF_SCOPE and v.reason == reason


@pytest.mark.parametrize("modality", [None, "", "OT", "SC", "XYZ"])
@pytest.mark.parametrize("part", [None, "", "UNKNOWN", "BODY", "CHEST SHOULDER"])
def test_unknown_or_empty_never_rejects_alone(modality, part):
    assert verdict(modality, body_part=part) is None


def test_unknown_modality_with_in_scope_part_is_not_settled():
    assert verdict("OT", body_part="HAND") is None  # the content check still decides


def test_descriptions_only_when_body_part_is_silent():
    assert verdict("CR", descriptions=("THORAX PA",)).reason == "chest radiograph"
    assert verdict("CR", body_part="KNEE", descriptions=("THORAX PA",)).scope == IN_SCOPE
    assert verdict("CR", descriptions=("Hand 2 views",)).kind == KIND_TAGS_IN
    assert verdict("CR", descriptions=("SKULL lat",)).reason == (
        "body part SKULL is outside the model's scope (from the study/series description)")
    # words of both lists decide nothing; head and neck of a bone stay in scope
    assert verdict("CR", descriptions=("Femoral head",)).scope == IN_SCOPE
    assert verdict("CR", descriptions=("humeral neck",)).scope == IN_SCOPE
    assert verdict("CR", descriptions=("chest and shoulder",)) is None


def test_reason_never_carries_free_text():
    v = verdict("CR", descriptions=("CHEST for Doe^Jane 1970",))
    assert "Doe" not in v.reason and "1970" not in v.reason


def test_multi_frame_is_out():
    v = verdict("DX", body_part="HAND", frames=12)
    assert v.scope == OUT_OF_SCOPE and "12 frames" in v.reason


def test_sop_class_stands_in_for_a_missing_modality():
    assert verdict(None, sop="CT Image Storage").reason == "CT image"
    assert verdict(None, sop="Enhanced MR Image Storage").reason == "MR image"
    assert verdict(None, sop="Secondary Capture Image Storage") is None


def test_every_out_modality_has_a_reason_and_none_is_radiographic():
    assert not set(MODALITY_REASONS) & RADIOGRAPHIC
    assert all(MODALITY_REASONS.values())


def test_abdomen_pelvis_is_one_out_of_scope_region():
    assert verdict("CR", body_part="ABDOMEN PELVIS").scope == OUT_OF_SCOPE
    assert verdict("CR", body_part="PELVIS").scope == IN_SCOPE


def test_classify_terms_plural_and_joined():
    assert classify_terms(["HANDS"]) == ({"HAND"}, set())
    assert classify_terms(["ABDOMENPELVIS"])[0] == set()
