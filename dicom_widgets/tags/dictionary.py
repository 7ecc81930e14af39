"""The DICOM data dictionary as the tag views need it: tags, VRs, VMs and modules.

Tag spelling (:func:`format_tag`, :func:`parse_tag`), what a VR and a VM mean, the
keyword and name of a public or private tag (cached: a 25,000-row header asks for the
same few hundred tags again and again), and the module a row belongs to for "group by
module". Only pydicom's dictionaries and the standard library.

Examples
--------
>>> format_tag(0x00100010), vr_meaning("PN").split(":")[0]
('(0010,0010)', 'Person Name')
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from pydicom.datadict import (
    dictionary_description,
    dictionary_has_tag,
    keyword_for_tag,
    private_dictionary_description,
    tag_for_keyword,
)

if TYPE_CHECKING:
    from .rows import ElementRow

__all__ = [
    "PIXEL_DATA_TAGS",
    "BINARY_VRS",
    "TEXT_VRS",
    "NUMERIC_VRS",
    "ITEM_TAG",
    "VR_MEANINGS",
    "MODULE_KEYWORDS",
    "vr_meaning",
    "vm_meaning",
    "format_tag",
    "parse_tag",
    "module_of",
]

PIXEL_DATA_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW", "US or OW"})
TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST"})
TEXT_VRS |= {"TM", "UC", "UI", "UR", "UT"}
NUMERIC_VRS = frozenset({"DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"})
ITEM_TAG = 0xFFFEE000

#: Meaning of each value representation (PS3.5 table 6.2-1), shown in the detail pane.
VR_MEANINGS: dict[str, str] = {
    "AE": "Application Entity: up to 16 characters naming a DICOM application",
    "AS": "Age String: nnnD, nnnW, nnnM or nnnY (days, weeks, months, years)",
    "AT": "Attribute Tag: a (group,element) tag pointing to another attribute",
    "CS": "Code String: up to 16 upper-case characters, digits, space or underscore",
    "DA": "Date: YYYYMMDD",
    "DS": "Decimal String: a number written as text, up to 16 characters",
    "DT": "Date Time: YYYYMMDDHHMMSS.FFFFFF&ZZXX",
    "FL": "Floating Point Single: 32-bit IEEE float",
    "FD": "Floating Point Double: 64-bit IEEE float",
    "IS": "Integer String: an integer written as text, up to 12 characters",
    "LO": "Long String: up to 64 characters",
    "LT": "Long Text: up to 10240 characters, may contain line breaks",
    "OB": "Other Byte: a stream of bytes",
    "OD": "Other Double: a stream of 64-bit floats",
    "OF": "Other Float: a stream of 32-bit floats",
    "OL": "Other Long: a stream of 32-bit words",
    "OV": "Other 64-bit Very Long: a stream of 64-bit words",
    "OW": "Other Word: a stream of 16-bit words",
    "PN": "Person Name: family^given^middle^prefix^suffix, with optional ideographic/phonetic groups",
    "SH": "Short String: up to 16 characters",
    "SL": "Signed Long: 32-bit signed integer",
    "SQ": "Sequence of Items: nested datasets",
    "SS": "Signed Short: 16-bit signed integer",
    "ST": "Short Text: up to 1024 characters",
    "SV": "Signed 64-bit Very Long: 64-bit signed integer",
    "TM": "Time: HHMMSS.FFFFFF",
    "UC": "Unlimited Characters: text of any length, no line breaks",
    "UI": "Unique Identifier: dot-separated digits, up to 64 characters",
    "UL": "Unsigned Long: 32-bit unsigned integer",
    "UN": "Unknown: bytes whose VR the reader could not determine (not interpreted)",
    "UR": "Universal Resource Identifier (URI/URL)",
    "US": "Unsigned Short: 16-bit unsigned integer",
    "UT": "Unlimited Text: text of any length, may contain line breaks",
    "UV": "Unsigned 64-bit Very Long: 64-bit unsigned integer",
    "OB or OW": "Other Byte or Other Word, depending on the transfer syntax",
    "US or SS": "Unsigned or Signed Short, depending on Pixel Representation",
    "US or OW": "Unsigned Short or Other Word",
    "US or SS or OW": "Unsigned Short, Signed Short or Other Word",
}


def vr_meaning(vr: str) -> str:
    """Return a one-line explanation of a VR (``"PN"`` -> ``"Person Name: ..."``).

    Examples
    --------
    >>> vr_meaning("DA")
    'Date: YYYYMMDD'
    """
    return VR_MEANINGS.get(vr, f"{vr}: unrecognised value representation" if vr else "unknown VR")


def vm_meaning(vm: int | str) -> str:
    """Explain a value multiplicity: an actual count (int) or a dictionary VM (``"1-n"``).

    Examples
    --------
    >>> vm_meaning(3)
    '3 values'
    >>> vm_meaning("2-2n")
    'an even number of values, at least 2'
    """
    if isinstance(vm, int):
        return {0: "empty (no value)", 1: "1 value"}.get(vm, f"{vm} values")
    text = str(vm)
    if text == "1":
        return "exactly one value"
    if re.fullmatch(r"\d+", text):
        return f"exactly {text} values"
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if match:
        return f"between {match.group(1)} and {match.group(2)} values"
    match = re.fullmatch(r"(\d+)-n", text)
    if match:
        return "one or more values" if match.group(1) == "1" else f"{match.group(1)} or more values"
    match = re.fullmatch(r"(\d+)-(\d+)n", text)
    if match:
        first, step = match.groups()
        if step == "2":
            return f"an even number of values, at least {first}"
        return f"a multiple of {step} values, at least {first}"
    return f"value multiplicity {text}"


def format_tag(tag: int) -> str:
    """Format a tag as ``(GGGG,EEEE)`` in upper-case hexadecimal.

    Examples
    --------
    >>> format_tag(0x00100010)
    '(0010,0010)'
    """
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


_TAG_PATTERNS = (
    re.compile(r"^\(?\s*(?:0x)?([0-9a-f]{4})\s*[,|\s]\s*(?:0x)?([0-9a-f]{4})\s*\)?$", re.I),
    re.compile(r"^(?:0x)?([0-9a-f]{4})([0-9a-f]{4})$", re.I),
)


def parse_tag(text: str) -> int | None:
    """Parse a tag written in any common spelling; ``None`` when it is not a tag.

    Accepts ``0010,0010``, ``(0010,0010)``, ``(0010, 0010)``, ``00100010``, ``0x00100010``,
    ``0x0010,0x0010`` and ``(0010|0010)``. A keyword is *not* a tag here.

    Examples
    --------
    >>> hex(parse_tag("(0019,100c)"))
    '0x19100c'
    >>> parse_tag("PatientName") is None
    True
    """
    text = text.strip()
    for pattern in _TAG_PATTERNS:
        match = pattern.match(text)
        if match:
            return (int(match.group(1), 16) << 16) | int(match.group(2), 16)
    return None


def _vr_text(vr: object) -> str:
    # pydicom 2.4's VR is a str Enum whose str() is "VR.UN"; pydicom 3 uses plain str.
    if vr.__class__ is str and vr:
        return vr  # type: ignore[return-value]
    if not vr:
        return "UN"
    return str(getattr(vr, "value", vr))


def _identifier(keyword: str) -> bool:
    return bool(keyword) and keyword.isidentifier()


@lru_cache(maxsize=16384)
def _public_info(tag: int) -> tuple[str, str, str, str, bool]:
    """(keyword, name, label, tag_text, keyword usable as attribute) of a public tag, cached."""
    keyword = keyword_for_tag(tag) or ""
    if keyword and tag_for_keyword(keyword) != tag:
        keyword = ""  # repeating groups (60xx overlays): the keyword names group 6000
    try:
        name = dictionary_description(tag) if dictionary_has_tag(tag) else ""
    except KeyError:
        name = ""
    if not name:
        name = keyword_for_tag(tag) or "Unknown element"
    label = keyword or ("group length" if tag & 0xFFFF == 0 else "(unknown)")
    return keyword, name, label, format_tag(tag), _identifier(keyword)


@lru_cache(maxsize=16384)
def _private_name(tag: int, creator: str) -> str:
    try:
        return private_dictionary_description(tag, creator)
    except KeyError:  # a creator or element pydicom's private dictionary does not know
        return "Private tag data"


# ----------------------------------------------------------------------------------------
# modules (for "group by module")

# pydicom ships no module tables, so the common attributes of the modules a user meets
# first are listed here; everything else falls back to a group-level heading.
#: The keywords of the modules a user meets first, by module name, in display order.
MODULE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Patient": tuple(
        """
        PatientName PatientID IssuerOfPatientID PatientBirthDate PatientSex PatientAge
        PatientSize PatientWeight OtherPatientIDs OtherPatientNames EthnicGroup
        PatientComments PatientBirthTime PatientIdentityRemoved DeidentificationMethod
        DeidentificationMethodCodeSequence PatientAddress
        """.split()
    ),
    "General Study": tuple(
        """
        StudyInstanceUID StudyDate StudyTime ReferringPhysicianName StudyID AccessionNumber
        StudyDescription PhysiciansOfRecord NameOfPhysiciansReadingStudy
        ProcedureCodeSequence ReferencedStudySequence
        """.split()
    ),
    "General Series": tuple(
        """
        Modality SeriesInstanceUID SeriesNumber Laterality SeriesDate SeriesTime
        PerformingPhysicianName ProtocolName SeriesDescription OperatorsName
        BodyPartExamined PatientPosition ReferencedPerformedProcedureStepSequence
        PerformedProcedureStepStartDate PerformedProcedureStepStartTime
        PerformedProcedureStepID PerformedProcedureStepDescription
        """.split()
    ),
    "Frame of Reference": tuple(
        """
        FrameOfReferenceUID PositionReferenceIndicator
        """.split()
    ),
    "General Equipment": tuple(
        """
        Manufacturer InstitutionName InstitutionAddress StationName
        InstitutionalDepartmentName ManufacturerModelName DeviceSerialNumber
        SoftwareVersions SpatialResolution DateOfLastCalibration TimeOfLastCalibration
        """.split()
    ),
    "General Image": tuple(
        """
        InstanceNumber PatientOrientation ContentDate ContentTime ImageType
        AcquisitionNumber AcquisitionDate AcquisitionTime AcquisitionDateTime
        ReferencedImageSequence DerivationDescription SourceImageSequence
        ImagesInAcquisition ImageComments BurnedInAnnotation LossyImageCompression
        LossyImageCompressionRatio LossyImageCompressionMethod IrradiationEventUID
        """.split()
    ),
    "Image Plane": tuple(
        """
        PixelSpacing ImageOrientationPatient ImagePositionPatient SliceThickness
        SliceLocation SpacingBetweenSlices
        """.split()
    ),
    "Image Pixel": tuple(
        """
        SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated BitsStored
        HighBit PixelRepresentation PixelData PlanarConfiguration PixelAspectRatio
        SmallestImagePixelValue LargestImagePixelValue RedPaletteColorLookupTableDescriptor
        GreenPaletteColorLookupTableDescriptor BluePaletteColorLookupTableDescriptor
        RedPaletteColorLookupTableData GreenPaletteColorLookupTableData
        BluePaletteColorLookupTableData FloatPixelData DoubleFloatPixelData
        PixelPaddingValue
        """.split()
    ),
    "Multi-frame": tuple(
        """
        NumberOfFrames FrameIncrementPointer FrameTime FrameTimeVector
        """.split()
    ),
    "Multi-frame Functional Groups": tuple(
        """
        SharedFunctionalGroupsSequence PerFrameFunctionalGroupsSequence
        DimensionOrganizationSequence DimensionIndexSequence ConcatenationUID
        """.split()
    ),
    "Modality LUT": tuple(
        """
        RescaleIntercept RescaleSlope RescaleType ModalityLUTSequence
        """.split()
    ),
    "VOI LUT": tuple(
        """
        WindowCenter WindowWidth WindowCenterWidthExplanation VOILUTFunction VOILUTSequence
        """.split()
    ),
    "CT Image": tuple(
        """
        KVP DataCollectionDiameter ReconstructionDiameter DistanceSourceToDetector
        DistanceSourceToPatient GantryDetectorTilt TableHeight RotationDirection
        ExposureTime XRayTubeCurrent Exposure FilterType GeneratorPower FocalSpots
        ConvolutionKernel CTDIvol ScanOptions SingleCollimationWidth TotalCollimationWidth
        TableSpeed TableFeedPerRotation SpiralPitchFactor
        """.split()
    ),
    "MR Image": tuple(
        """
        ScanningSequence SequenceVariant MRAcquisitionType SequenceName RepetitionTime
        EchoTime InversionTime NumberOfAverages ImagingFrequency ImagedNucleus EchoNumbers
        MagneticFieldStrength NumberOfPhaseEncodingSteps EchoTrainLength PercentSampling
        PercentPhaseFieldOfView PixelBandwidth ReceiveCoilName TransmitCoilName
        AcquisitionMatrix InPlanePhaseEncodingDirection FlipAngle SAR dBdt
        VariableFlipAngleFlag TriggerTime
        """.split()
    ),
    "Contrast/Bolus": tuple(
        """
        ContrastBolusAgent ContrastBolusRoute ContrastBolusVolume
        """.split()
    ),
    "SOP Common": tuple(
        """
        SOPClassUID SOPInstanceUID SpecificCharacterSet InstanceCreationDate
        InstanceCreationTime InstanceCreatorUID TimezoneOffsetFromUTC
        ContributingEquipmentSequence
        """.split()
    ),
}
_MODULE_OF_KEYWORD = {kw: module for module, kws in MODULE_KEYWORDS.items() for kw in kws}
_GROUP_NAMES = {
    0x0002: "File Meta Information",
    0x0008: "Identification (group 0008)",
    0x0010: "Patient (group 0010)",
    0x0018: "Acquisition (group 0018)",
    0x0020: "Relationship (group 0020)",
    0x0028: "Image Presentation (group 0028)",
    0x0032: "Study (group 0032)",
    0x0038: "Visit (group 0038)",
    0x0040: "Procedure and Content (group 0040)",
    0x0054: "Nuclear Medicine (group 0054)",
    0x0070: "Presentation State (group 0070)",
    0x0088: "Storage (group 0088)",
    0x3006: "RT Structure Set (group 3006)",
    0x300A: "RT Plan (group 300A)",
    0x300C: "RT Relationship (group 300C)",
    0x3004: "RT Dose (group 3004)",
    0x7FE0: "Pixel Data (group 7FE0)",
}


def module_of(row: ElementRow) -> str:
    """Return the module (or a group heading) a top-level row belongs to.

    The module of a nested row is the module of its top-level ancestor's keyword
    when it is known; private elements are grouped by private creator.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import flatten
    >>> ds = Dataset(); ds.PatientName = "A^B"; ds.SliceThickness = 1
    >>> [module_of(r) for r in flatten(ds)]
    ['Patient', 'Image Plane']
    """
    if row.in_file_meta:
        return "File Meta Information"
    if row.is_private:
        return f"Private: {row.private_creator}" if row.private_creator else "Private"
    top_keyword = row.path.split(".", 1)[0].split("[", 1)[0]
    module = _MODULE_OF_KEYWORD.get(top_keyword)
    if module:
        return module
    group = row.sort_key[0] >> 16 if row.sort_key else row.tag >> 16
    return _GROUP_NAMES.get(group, f"Group {group:04X}")
