"""Registration of the Dataset repr with a real IPython shell (no kernel, no browser)."""

from __future__ import annotations

import warnings

import pytest
from pydicom.dataset import Dataset, FileDataset

import dicom_widgets
from dicom_widgets._compat import read_dataset
from dicom_widgets._ipython import disable_reprs, enable_reprs, reprs_enabled
from dicom_widgets.data import pydicom_file
from dicom_widgets.errors import DicomWidgetsWarning


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    yield ip
    disable_reprs(ip)


def _bundle(ip, obj):
    data, _metadata = ip.display_formatter.format(obj)
    return data


def test_enable_registers_html_for_dataset_and_file_dataset(shell):
    ds = read_dataset(pydicom_file("ct_small"))
    assert "text/html" not in _bundle(shell, ds)
    assert enable_reprs(shell) is True
    assert reprs_enabled(shell)
    data = _bundle(shell, ds)
    assert '<div class="dw-repr">' in data["text/html"]
    assert "CT Image Storage" in data["text/html"]
    # The text/plain part of the same bundle is pydicom's own text for ordinary headers.
    assert data["text/plain"] == str(ds)
    plain = Dataset()
    plain.PatientName = "<script>x</script>"
    html = _bundle(shell, plain)["text/html"]
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html


def test_no_monkey_patching(shell):
    enable_reprs(shell)
    for cls in (Dataset, FileDataset):
        assert not hasattr(cls, "_repr_html_")
        assert not hasattr(cls, "_repr_mimebundle_")


def test_disable_restores_plain_text_and_previous_printer(shell):
    formatter = shell.display_formatter.formatters["text/html"]

    def previous(ds):
        return "<b>previous</b>"

    formatter.for_type(Dataset, previous)
    try:
        enable_reprs(shell)
        enable_reprs(shell, thumbnail=False)  # twice: still restores the original
        assert "dw-repr" in _bundle(shell, Dataset())["text/html"]
        assert disable_reprs(shell) is True
        assert formatter.type_printers.get(Dataset) is previous
        assert FileDataset not in formatter.type_printers
        assert disable_reprs(shell) is False
    finally:
        formatter.pop(Dataset, None)
    assert "text/html" not in _bundle(shell, Dataset())


def test_options_are_passed_and_checked(shell):
    enable_reprs(shell, thumbnail=False)
    html = _bundle(shell, read_dataset(pydicom_file("ct_small")))["text/html"]
    assert "<img" not in html
    with pytest.raises(TypeError, match="unknown repr option"):
        enable_reprs(shell, thumbnial=False)


def test_load_ext_magic(shell):
    shell.run_line_magic("load_ext", "dicom_widgets")
    try:
        assert reprs_enabled(shell)
        assert "text/html" in _bundle(shell, read_dataset(pydicom_file("mr_small")))
    finally:
        shell.run_line_magic("unload_ext", "dicom_widgets")
    assert not reprs_enabled(shell)
    assert "text/html" not in _bundle(shell, Dataset())


def test_public_names():
    assert dicom_widgets.enable_reprs is enable_reprs
    assert dicom_widgets.disable_reprs is disable_reprs
    assert callable(dicom_widgets.load_ipython_extension)
    assert callable(dicom_widgets.unload_ipython_extension)


def test_enable_outside_ipython_warns(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert enable_reprs() is False
    assert any(issubclass(w.category, DicomWidgetsWarning) for w in caught)
    assert disable_reprs() is False


@pytest.mark.slow
def test_load_ext_in_a_real_kernel(tmp_path):
    """``%load_ext dicom_widgets`` in a kernel: a dataset cell's output bundle has our HTML."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [
        "%load_ext dicom_widgets",
        "from dicom_widgets._compat import read_dataset\n"
        "from dicom_widgets.data import pydicom_file\n"
        "ds = read_dataset(pydicom_file('ct_small'))\n"
        "ds.PatientName = '<script>alert(1)</script>'\n"
        "ds",
        "%unload_ext dicom_widgets\nds",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute(cwd=str(tmp_path))
    shown = nb.cells[1].outputs[0]["data"]
    assert '<div class="dw-repr">' in shown["text/html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown["text/html"]
    assert "<script>" not in shown["text/html"]
    assert "text/plain" in shown
    after = nb.cells[2].outputs[0]["data"]
    assert "text/html" not in after


def test_plain_text_is_short_for_huge_headers(shell):
    from pydicom.sequence import Sequence

    big = Dataset()
    big.PatientName = "Big^Header"
    items = []
    for i in range(300):
        item = Dataset()
        for e in range(10):
            item.add_new(0x00091000 | e, "LO", f"value {i}-{e}")
        item.add_new(0x00090010, "LO", "CREATOR")
        items.append(item)
    big.ReferencedImageSequence = Sequence(items)
    enable_reprs(shell)
    plain = _bundle(shell, big)["text/plain"]
    assert len(plain) < len(str(big)) / 5
    assert "print(ds) shows them all" in plain and "Big^Header" in plain
    small = read_dataset(pydicom_file("ct_small"))
    assert _bundle(shell, small)["text/plain"] == str(small)
    # plain_text=False keeps pydicom's text; disable_reprs restores it too.
    enable_reprs(shell, plain_text=False)
    assert _bundle(shell, big)["text/plain"] == repr(big)
    enable_reprs(shell)
    disable_reprs(shell)
    assert _bundle(shell, big)["text/plain"] == repr(big)
