"""Resolution of the compound action codes of Table E.1-1 by the attribute's Type in the IOD.

PS3.15 gives X/Z, X/D, Z/D, X/Z/D and X/Z/U* where the right action depends on whether the
IOD requires the attribute: an attribute the IOD requires must not be removed (Type 1 and
Type 2) and a Type 1 attribute must not be empty. The resolution used here:

============  =====================  ================  =======================
code          Type 1 (or 1C, met)    Type 2 (or 2C)    Type 3 / not in IOD
============  =====================  ================  =======================
X/Z           Z (no D allowed)       Z                 X
X/D           D                      D (no Z allowed)  X
Z/D           D                      Z                 Z
X/Z/D         D                      Z                 X
X/Z/U*        U* (keep, remap UIDs)  Z (empty seq.)    X
============  =====================  ================  =======================

The Type comes from :data:`REQUIREMENTS`: a curated list covering every attribute of
Table E.1-1 that carries a compound code, giving its Type in the IODs (and nesting
contexts) of the modules where it is Type 1 or 2, from PS3.3 (2026). Where an attribute is
not listed for the dataset's SOP Class it is treated as Type 3 (removal), which is what the
Basic Profile prefers. The SOP Class is the one of the top-level dataset; inside a
sequence, the enclosing sequence keyword refines the answer where PS3.3 differs (for
example Source Image Sequence is Type 1 inside Derivation Image Sequence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataset import Dataset

__all__ = [
    "resolve_compound",
    "attribute_type",
    "dummy_item",
    "DUMMY_ITEMS",
    "REQUIREMENTS",
    "ENHANCED_SOP_CLASSES",
]

# SOP Classes whose IODs use the multi-frame functional group modules and Enhanced General
# Equipment (Device Serial Number Type 1; Content Date/Time Type 1; Acquisition DateTime 1C).
ENHANCED_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR
        "1.2.840.10008.5.1.4.1.1.4.3",  # Enhanced MR Color
        "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR
        "1.2.840.10008.5.1.4.1.1.4.2",  # MR Spectroscopy
        "1.2.840.10008.5.1.4.1.1.12.1.1",  # Enhanced XA
        "1.2.840.10008.5.1.4.1.1.12.2.1",  # Enhanced XRF
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET
        "1.2.840.10008.5.1.4.1.1.128.1",  # Legacy Converted Enhanced PET
        "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
        "1.2.840.10008.5.1.4.1.1.13.1.1",  # X-Ray 3D Angiographic
        "1.2.840.10008.5.1.4.1.1.13.1.2",  # X-Ray 3D Craniofacial
        "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis
        "1.2.840.10008.5.1.4.1.1.77.1.6",  # VL Whole Slide Microscopy
        "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
        "1.2.840.10008.5.1.4.1.1.30",  # Parametric Map
    }
)
PET_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.128"})
SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
RT_PLAN_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.481.5",  # RT Plan
        "1.2.840.10008.5.1.4.1.1.481.8",  # RT Ion Plan
    }
)
PRESENTATION_STATE_PREFIX = "1.2.840.10008.5.1.4.1.1.11."
# IODs including the Acquisition Context Module (Type 2 Acquisition Context Sequence).
ACQUISITION_CONTEXT_SOP_CLASSES = ENHANCED_SOP_CLASSES | frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.77.1.5.1",  # Ophthalmic Photography 8 bit
        "1.2.840.10008.5.1.4.1.1.77.1.5.2",  # Ophthalmic Photography 16 bit
        "1.2.840.10008.5.1.4.1.1.77.1.5.4",  # Ophthalmic Tomography
        "1.2.840.10008.5.1.4.1.1.9.1.1",  # 12-lead ECG (waveform IODs)
        "1.2.840.10008.5.1.4.1.1.9.1.2",
        "1.2.840.10008.5.1.4.1.1.9.1.3",
        "1.2.840.10008.5.1.4.1.1.9.2.1",
        "1.2.840.10008.5.1.4.1.1.9.3.1",
        "1.2.840.10008.5.1.4.1.1.9.4.1",
    }
)


@dataclass(frozen=True)
class Where:
    """The context in which an attribute's Type is looked up."""

    sop_class: str
    parent: str  # keyword of the enclosing sequence ("" at top level)
    item: Dataset  # the dataset (or item) holding the attribute


Rule = Callable[[Where], int]


def _type_if(predicate: Callable[[Where], bool], when: int, otherwise: int = 3) -> Rule:
    return lambda w: when if predicate(w) else otherwise


def _top(w: Where) -> bool:
    return w.parent == ""


def _enhanced(w: Where) -> bool:
    return w.sop_class in ENHANCED_SOP_CLASSES and _top(w)


def _sr(w: Where) -> bool:
    return w.sop_class.startswith(SR_PREFIX) and _top(w)


def _is_animal(w: Where) -> bool:
    return "PatientSpeciesDescription" in w.item or "PatientSpeciesCodeSequence" in w.item


def _approval_decided(w: Where) -> bool:
    return str(w.item.get("ApprovalStatus", "")).upper() in ("APPROVED", "REJECTED")


#: keyword -> function(Where) -> Type (1, 2 or 3). Only attributes with compound codes.
REQUIREMENTS: dict[str, Rule] = {
    # SOP Common: Type 3 everywhere.
    "InstanceCreationDate": lambda w: 3,
    "InstanceCreationTime": lambda w: 3,
    # General Series: Type 3; PET Series: Type 1.
    "SeriesDate": _type_if(lambda w: w.sop_class in PET_SOP_CLASSES and _top(w), 1),
    "SeriesTime": _type_if(lambda w: w.sop_class in PET_SOP_CLASSES and _top(w), 1),
    "AcquisitionDate": lambda w: 3,
    "AcquisitionTime": lambda w: 3,
    # Enhanced image modules: Acquisition DateTime 1C (ORIGINAL images: nearly always met).
    "AcquisitionDateTime": _type_if(_enhanced, 1),
    # General Image: Content Date/Time 2C (Type 2 in practice); Multi-frame Functional
    # Groups and SR Document General: Type 1.
    "ContentDate": lambda w: 1 if (_enhanced(w) or _sr(w)) else (2 if _top(w) else 3),
    "ContentTime": lambda w: 1 if (_enhanced(w) or _sr(w)) else (2 if _top(w) else 3),
    "InstitutionName": lambda w: 3,
    "InstitutionCodeSequence": lambda w: 3,
    "StationName": lambda w: 3,
    "OperatorsName": lambda w: 3,
    "OperatorIdentificationSequence": lambda w: 3,
    "ReferencedStudySequence": lambda w: 3,
    "ReferencedPerformedProcedureStepSequence": lambda w: 3,
    # Type 3 in General Image / Key Object; Type 1 where an IOD uses it for its references.
    "ReferencedImageSequence": _type_if(
        lambda w: w.parent in ("ReferencedSeriesSequence", "ReferencedImageBoxSequence"), 1
    ),
    "SourceImageSequence": _type_if(lambda w: w.parent == "DerivationImageSequence", 1),
    # Patient Module: Type 2.
    "PatientID": lambda w: 2 if _top(w) else 3,
    # Patient Module: Type 2C, required for non-human organisms.
    "PatientSexNeutered": _type_if(lambda w: _top(w) and _is_animal(w), 2),
    # Contrast/Bolus Module: Type 2.
    "ContrastBolusAgent": lambda w: 2 if _top(w) else 3,
    # Enhanced General Equipment: Type 1.
    "DeviceSerialNumber": _type_if(_enhanced, 1),
    "ProtocolName": lambda w: 3,
    "AcquisitionDeviceProcessingDescription": lambda w: 3,
    "DetectorID": lambda w: 3,
    "DateOfLastDetectorCalibration": lambda w: 3,
    "TimeOfLastDetectorCalibration": lambda w: 3,
    "StartAcquisitionDateTime": lambda w: 3,
    "EndAcquisitionDateTime": lambda w: 3,
    "InstructionPerformedDateTime": lambda w: 2,
    "RequestedProcedureDescription": lambda w: 3,
    # Acquisition Context Module: Type 2.
    "AcquisitionContextSequence": _type_if(
        lambda w: _top(w) and w.sop_class in ACQUISITION_CONTEXT_SOP_CLASSES, 2
    ),
    "ObservationDateTime": lambda w: 3,
    "WaveformAnnotationSequence": lambda w: 3,
    # Presentation State Identification: Content Creator's Name Type 2.
    "ContentCreatorName": lambda w: 2 if _top(w) else 3,
    "LabelText": lambda w: 3,
    "BarcodeValue": lambda w: 3,
    "FirstTreatmentDate": lambda w: 3,
    "MostRecentTreatmentDate": lambda w: 3,
    "SourceSerialNumber": lambda w: 3,
    "TreatmentDate": lambda w: 2 if w.parent == "TreatmentSessionBeamSequence" else 3,
    "TreatmentTime": lambda w: 2 if w.parent == "TreatmentSessionBeamSequence" else 3,
    # RT General Plan: RT Plan Date/Time Type 2.
    "RTPlanDate": _type_if(lambda w: _top(w) and w.sop_class in RT_PLAN_SOP_CLASSES, 2),
    "RTPlanTime": _type_if(lambda w: _top(w) and w.sop_class in RT_PLAN_SOP_CLASSES, 2),
    # RT Beams / RT Ion Beams: Treatment Machine Name Type 2 inside each beam.
    "TreatmentMachineName": _type_if(lambda w: w.parent in ("BeamSequence", "IonBeamSequence"), 2),
    # Approval Module: Reviewer Name Type 2C (APPROVED or REJECTED).
    "ReviewerName": _type_if(lambda w: _top(w) and _approval_decided(w), 2),
    "IntendedPhaseStartDate": lambda w: 3,
    "IntendedPhaseEndDate": lambda w: 3,
    "RTTreatmentApproachLabel": lambda w: 3,
    "TreatmentSite": lambda w: 3,
}


def attribute_type(keyword: str, sop_class: str, parent: str, item: Dataset) -> int:
    """Type (1, 2 or 3) of ``keyword`` in this context; 3 when not curated."""
    rule = REQUIREMENTS.get(keyword)
    if rule is None:
        return 3
    return rule(Where(sop_class, parent, item))


def resolve_compound(
    code: str, keyword: str, sop_class: str, parent: str, item: Dataset
) -> tuple[str, str]:
    """Resolve a compound code to one action.

    Returns
    -------
    (action, reason)
        ``action`` is one of X, Z, D, U (U meaning: keep the sequence, remap its UIDs);
        ``reason`` says why, for the change list.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> resolve_compound("Z/D", "PatientID", "1.2.840.10008.5.1.4.1.1.2", "", Dataset())
    ('Z', 'Z/D -> Z: Type 2 in the IOD')
    """
    if "/" not in code:
        return code, ""
    choices = code.replace("*", "").split("/")
    typ = attribute_type(keyword, sop_class, parent, item)
    if typ == 1:
        order = ["U", "D", "Z"] if "U" in choices else ["D", "Z"]
    elif typ == 2:
        order = ["Z", "D"]
    else:
        order = ["X", "Z", "D"]
    for action in order:
        if action in choices:
            label = {1: "Type 1 in the IOD", 2: "Type 2 in the IOD", 3: "Type 3 or not in the IOD"}[
                typ
            ]
            return action, f"{code} -> {action}: {label}"
    return choices[0], f"{code} -> {choices[0]}"


# -- dummy sequence items (D on an SQ) ---------------------------------------------------------
# D replaces a sequence by one item holding only what the IOD requires of an item of it,
# with dummy values (PS3.15 E.1.1: "a non-zero length value ... consistent with the VR"; an
# empty sequence would be Z). The templates name the macro or module table of PS3.3 (2026)
# whose Type 1 attributes (and Type 2 ones, empty) they hold.
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY_SCHEME = "99DEID"  # a private coding scheme (PS3.16 8.2: "99" prefix)


def _code_item(_uid: str) -> Dataset:
    item = Dataset()
    item.CodeValue = _DUMMY_TEXT
    item.CodingSchemeDesignator = _DUMMY_SCHEME
    item.CodeMeaning = _DUMMY_TEXT
    return item


def _verifying_observer(_uid: str) -> Dataset:
    item = Dataset()
    item.VerifyingObserverName = _DUMMY_TEXT
    item.VerifyingObserverIdentificationCodeSequence = []  # Type 2
    item.VerifyingOrganization = _DUMMY_TEXT
    item.VerificationDateTime = "19000101000000"
    return item


def _content_item(uid: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = [_code_item(uid)]
    item.TextValue = _DUMMY_TEXT
    return item


def _text_object(_uid: str) -> Dataset:
    text = Dataset()
    text.UnformattedTextValue = _DUMMY_TEXT
    text.AnchorPointAnnotationUnits = "PIXEL"
    text.AnchorPoint = [0.0, 0.0]
    text.AnchorPointVisibility = "N"
    return text


def _graphic_annotation(uid: str) -> Dataset:
    item = Dataset()
    item.GraphicLayer = _DUMMY_TEXT
    item.TextObjectSequence = [_text_object(uid)]
    return item


def _flow_identifier(_uid: str) -> Dataset:
    item = Dataset()
    item.FlowIdentifier = b"\x00\x00"
    return item


def _waveform_annotation(_uid: str) -> Dataset:
    item = Dataset()
    item.UnformattedTextValue = _DUMMY_TEXT
    item.ReferencedWaveformChannels = [1, 1]
    return item


def _person_identification(uid: str) -> Dataset:
    item = Dataset()
    item.PersonIdentificationCodeSequence = [_code_item(uid)]
    item.InstitutionName = _DUMMY_TEXT  # 1C: a name or a code of the institution
    return item


def _sop_instance_reference(uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"  # Modality Performed Procedure Step
    item.ReferencedSOPInstanceUID = uid
    return item


#: Sequence keyword -> (template, what PS3.3 defines the item as). Sequences whose name ends
#: in ``CodeSequence`` not listed here hold Code Sequence Macro items (PS3.3 Table 8.8-1).
DUMMY_ITEMS: dict[str, tuple[Callable[[str], Dataset], str]] = {
    "PersonIdentificationCodeSequence": (_code_item, "Code Sequence Macro"),
    "InstitutionCodeSequence": (_code_item, "Code Sequence Macro"),
    "VerifyingObserverSequence": (_verifying_observer, "SR Document General Module, C.17.2"),
    "ContentSequence": (_content_item, "a TEXT content item, Document Content Macro C.17.3"),
    "GraphicAnnotationSequence": (_graphic_annotation, "Graphic Annotation Module, C.10.5"),
    "FlowIdentifierSequence": (_flow_identifier, "Flow Identifier Sequence item"),
    "WaveformAnnotationSequence": (_waveform_annotation, "Waveform Annotation Module, C.10.10"),
    "OperatorIdentificationSequence": (
        _person_identification,
        "Person Identification Macro, Table 10-1",
    ),
    "ReferencedPerformedProcedureStepSequence": (
        _sop_instance_reference,
        "SOP Instance Reference Macro, Table 10-11",
    ),
}


def dummy_item(keyword: str, dummy_uid: str) -> tuple[Dataset, str]:
    """The one item of a dummy sequence (action D on an SQ), and what it is.

    Parameters
    ----------
    keyword : str
        The sequence's keyword.
    dummy_uid : str
        A UID to use where the item needs an instance UID (the engine passes a keyed one).

    Returns
    -------
    (Dataset, str)
        The item, and the PS3.3 definition it follows (``""`` with an empty item when no
        template is known: it still holds nothing of the original).

    Examples
    --------
    >>> item, what = dummy_item("PersonIdentificationCodeSequence", "2.25.1")
    >>> item.CodeValue, item.CodingSchemeDesignator, what
    ('ANONYMIZED', '99DEID', 'Code Sequence Macro')
    """
    found = DUMMY_ITEMS.get(keyword)
    if found is None and keyword.endswith("CodeSequence"):
        found = (_code_item, "Code Sequence Macro")
    if found is None:
        return Dataset(), ""
    template, what = found
    return template(dummy_uid), what
