"""TagExplorer and DiffView driven through their traits, without a browser."""

from __future__ import annotations

import asyncio
import re
import warnings

import pytest
from pydicom.dataset import Dataset

from dicom_widgets._compat import read_dataset
from dicom_widgets.data import ct_phantom, pydicom_file
from dicom_widgets.tags import compare
from dicom_widgets.widgets.tag_explorer import DiffView, TagExplorer, variation_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read(name: str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dataset(pydicom_file(name), force=True)


def table_paths(explorer: TagExplorer) -> list[str]:
    return re.findall(r'data-dw-path="([^"]*)"', explorer.table.value)


def test_explorer_from_path_shows_first_page_only():
    explorer = TagExplorer(pydicom_file("enhanced_ct"), page_size=20)
    assert len(explorer.rows) > 100
    assert explorer.n_visible == len(explorer.rows)
    assert len(table_paths(explorer)) == 20  # one page rendered, not the tree
    assert explorer.n_pages == -(-len(explorer.rows) // 20)
    assert explorer.prev_button.disabled and not explorer.next_button.disabled
    explorer.next_button.click()
    assert explorer.page == 1
    assert table_paths(explorer)[0] == explorer.visible_rows[20].path
    explorer.page = 10_000  # clamped
    assert explorer.page == explorer.n_pages - 1
    assert explorer.next_button.disabled
    assert "rows " in explorer.page_label.value


def test_search_selects_first_hit_with_parents_and_expression():
    ds = read("enhanced_ct")
    explorer = TagExplorer(ds)
    explorer.search_box.value = "pixel spacing"  # no event loop: applied at once
    assert explorer.query == "pixel spacing"
    row = explorer.selected_row
    assert row is not None and row.keyword == "PixelSpacing"
    assert explorer.expression.value == row.expression
    # the hit is shown with its parents (sequence and item rows) expanded
    paths = table_paths(explorer)
    assert "SharedFunctionalGroupsSequence" in paths
    assert "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing" in paths
    assert explorer.n_hits >= 1 and explorer.n_visible > explorer.n_hits
    assert "Decimal String" in explorer.detail.value  # VR meaning
    assert "PixelSpacing" in explorer.detail.value
    # every hit's expression evaluates to that element's value
    for i in explorer.index.search(explorer.query).hits:
        hit = explorer.rows[i]
        assert eval(hit.expression, {}, {"ds": ds}) == hit.element.value  # noqa: S307


def test_search_tag_spelling_and_clear():
    explorer = TagExplorer(read("ct_small"))
    explorer.query = "0x00100020"
    # PatientID at the top and in both items of OtherPatientIDsSequence
    assert explorer.n_hits == 3 and explorer.selected_row.path == "PatientID"
    assert "OtherPatientIDsSequence[1].PatientID" in table_paths(explorer)
    assert explorer.search_box.value == "0x00100020"  # trait and box stay in sync
    explorer.query = "zzz-nothing"
    assert explorer.n_visible == 0 and "no matching elements" in explorer.table.value
    assert explorer.selected_row is None and explorer.expression.value == ""
    explorer.query = ""
    assert explorer.n_visible == len(explorer.rows)


def test_row_select_drives_detail():
    explorer = TagExplorer(read("explicit_un"))
    options = dict((v, label) for label, v in explorer.row_select.options)
    private = next(r for r in explorer.page_rows if r.tag == 0x00131010)
    assert private.index in options
    explorer.row_select.value = private.index
    assert explorer.selected == private.index
    assert explorer.expression.value == "ds[0x0013, 0x1010].value"
    assert "private_block(0x0013, &#x27;CTP&#x27;)" in explorer.detail.value
    assert "Unknown" in explorer.detail.value  # UN meaning
    assert 'style="outline' in explorer.table.value


def test_selecting_a_row_on_another_page_moves_there():
    explorer = TagExplorer(read("enhanced_ct"), page_size=10)
    target = explorer.visible_rows[35]
    explorer.selected = target.index
    assert explorer.page == 3
    assert explorer.row_select.value == target.index


def test_private_filter_hides_private_subtrees():
    explorer = TagExplorer(read("un_sequence"))
    assert any(r.is_private for r in explorer.visible_rows)
    explorer.private_box.value = False
    assert explorer.show_private is False
    assert not any(r.path.startswith("(4453,100C)") for r in explorer.visible_rows)
    explorer.show_private = True
    assert explorer.private_box.value is True
    assert any(r.path.startswith("(4453,100C)") for r in explorer.visible_rows)


def test_group_by_module_headings():
    explorer = TagExplorer(read("ct_small"), page_size=500)
    explorer.module_box.value = True
    html = explorer.table.value
    for heading in ("File Meta Information", "Patient (", "Image Plane", "Image Pixel"):
        assert heading in html
    order = [r.keyword for r in explorer.visible_rows if r.parent is None]
    assert order.index("PatientName") < order.index("PixelSpacing")
    assert sorted(order) == sorted(r.keyword for r in explorer.rows if r.parent is None)


def test_series_instances_varies_and_plot():
    datasets = ct_phantom(n_slices=5, size=16)
    explorer = TagExplorer(datasets)
    assert explorer.instance_slider.layout.display is None  # visible for several instances
    explorer.query = "SliceLocation"
    first = explorer.selected_row.summary
    explorer.instance_slider.value = 3
    assert explorer.instance == 3
    assert explorer.selected_row.keyword == "SliceLocation"  # selection kept by path
    assert explorer.selected_row.summary == str(datasets[3].SliceLocation) != first
    explorer.query = ""
    explorer.only_varying = True
    varying = {r.path for r in explorer.visible_rows}
    assert {"SliceLocation", "InstanceNumber", "SOPInstanceUID"} <= varying
    assert "PatientName" not in varying and "Rows" not in varying
    explorer.tabs.selected_index = 1
    labels = [label for label, _ in explorer.plot_choice.options]
    assert "SliceLocation" in labels and "InstanceNumber" in labels
    assert bytes(explorer.plot.value).startswith(PNG_MAGIC)
    assert "SliceLocation" in explorer.varies_table.value
    assert "elements vary across 5 instances" in explorer.varies_table.value


def test_series_like_source_uses_dataset_and_len():
    class FakeSeriesLike:  # the Series protocol: len() and dataset(i)
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def dataset(self, i):
            return self.items[i]

    explorer = TagExplorer(FakeSeriesLike(ct_phantom(n_slices=3, size=8)))
    explorer.instance = 2
    assert explorer.instance_slider.value == 2
    explorer.instance = 99
    assert explorer.instance == 2


def test_single_dataset_has_no_varies():
    explorer = TagExplorer(read("ct_small"))
    assert explorer.varying_box.disabled
    assert explorer.instance_slider.layout.display == "none"
    explorer.tabs.selected_index = 1
    assert "nothing can vary" in explorer.varies_status.value


def test_debounce_in_event_loop_applies_once():
    # A debounce far longer than the four keystrokes take even on a loaded machine (at
    # 0.05 s, four 5 ms sleeps under nice 19 on two shared cores outlasted it).
    explorer = TagExplorer(read("ct_small"), debounce=0.5)
    seen = []
    explorer.observe(lambda ch: seen.append(ch["new"]), "query")

    async def type_slowly():
        for text in ("p", "pa", "pat", "patient"):
            explorer.search_box.value = text
            await asyncio.sleep(0.005)
        assert explorer.query == ""  # still waiting
        await asyncio.sleep(1.0)

    asyncio.run(type_slowly())
    assert seen == ["patient"]  # one search for four keystrokes
    assert explorer.query == "patient"
    explorer.search_box.value = "rows"
    assert explorer.query == "rows"  # no loop running any more: immediate


def test_invalid_values_marked_in_table():
    explorer = TagExplorer(read("bad_vr"), page_size=200)
    html = explorer.table.value
    assert html.count('class="dw-invalid-label"') == 2
    explorer.query = "NumberOfFrames"
    assert "Invalid value for VR IS" in explorer.detail.value
    assert "Raw bytes" in explorer.detail.value


def test_script_payloads_escaped_everywhere():
    ds = Dataset()
    ds.PatientName = "<script>alert(1)</script>"
    ds.StudyDescription = '"><img src=x onerror=alert(2)>'
    ds.add_new(0x00090010, "LO", "<b>EVIL</b>")
    ds.add_new(0x00091001, "LO", "</td><script>x</script>")
    explorer = TagExplorer([ds, ds])
    explorer.query = "script"
    explorer.selected = next(r.index for r in explorer.rows if r.tag == 0x00091001)
    for html in (explorer.table.value, explorer.detail.value):
        assert "<script>" not in html and "<img" not in html and "<b>EVIL" not in html
        assert "&lt;script&gt;" in html or "&lt;/td&gt;" in html
    labels = [label for label, _ in explorer.row_select.options]
    assert any("<script>" in label for label in labels)  # option text is plain text, not HTML


def test_diff_view_filters():
    a = read("ct_small")
    b = read("ct_small")
    b.PatientName = "<script>bad</script>"
    del b.StudyDate
    b.ProtocolName = "new"
    view = DiffView(compare(a, b))
    assert isinstance(view, DiffView)
    assert len(view.shown) == 3
    assert "&lt;script&gt;" in view.table.value and "<script>" not in view.table.value
    view._boxes["changed"].value = False
    assert view.kinds == ("removed", "added")
    assert "PatientName" not in view.table.value and "StudyDate" in view.table.value
    view.query = "protocol"
    assert [c.path for c in view.shown] == ["ProtocolName"]
    assert view.search_box.value == "protocol"


def test_variation_png_vector():
    from dicom_widgets.tags import varies

    found = {v.path: v for v in varies(ct_phantom(n_slices=3, size=8))}
    assert variation_png(found["ImagePositionPatient"]).startswith(PNG_MAGIC)
    assert variation_png(found["SOPInstanceUID"]) == b""


@pytest.mark.parametrize(
    "name", ["sr", "rtstruct", "nested_private_sequence", "un_sequence", "bad_vr"]
)
def test_explorer_opens_difficult_files(name):
    explorer = TagExplorer(read(name), page_size=30)
    assert explorer.n_visible == len(explorer.rows) > 0
    explorer.query = "sequence"
    explorer.group_by_module = True
    explorer.show_private = False
    assert explorer.table.value


def test_folder_series_and_paths_sources(ct_folder):
    from dicom_widgets.series import load_series

    by_folder = TagExplorer(ct_folder)
    assert len(by_folder._source) == 24
    series = load_series(ct_folder, progress=False)
    explorer = TagExplorer(series)
    explorer.instance = 5
    explorer.query = "InstanceNumber"
    assert explorer.selected_row.summary == str(series.dataset(5).InstanceNumber)
    explorer.tabs.selected_index = 1
    assert "SliceLocation" in [label for label, _ in explorer.plot_choice.options]
    paths = sorted(ct_folder.glob("*.dcm"))[:3]
    by_paths = TagExplorer(paths)
    assert len(by_paths._source) == 3
    pixel = next(r for r in by_paths.rows if r.tag == 0x7FE00010)
    assert "not loaded" in pixel.summary or "bytes" in pixel.summary
    assert not compare(series, series)


def test_explorer_to_dataframe():
    explorer = TagExplorer(read("ct_small"))
    df = explorer.to_dataframe()
    assert len(df) == sum(r.kind == "element" for r in explorer.rows)
    explorer.query = "patient"
    small = explorer.to_dataframe(visible_only=True)
    assert 0 < len(small) < len(df)
    assert "PatientName" in set(small.keyword)


def test_multiframe_varies_over_frames():
    from dicom_widgets.data import mr_multiframe_phantom

    ds = mr_multiframe_phantom()
    n_frames = len(ds.PerFrameFunctionalGroupsSequence)
    explorer = TagExplorer(ds)
    assert explorer.varies_over == "frames" and explorer.n_compared == n_frames
    assert not explorer.varying_box.disabled
    explorer.tabs.selected_index = 1
    labels = [label for label, _ in explorer.plot_choice.options]
    assert "ImagePositionPatient" in labels
    assert f"vary across {n_frames} frames" in explorer.varies_table.value
    assert bytes(explorer.plot.value).startswith(PNG_MAGIC)
    explorer.only_varying = True
    paths = {r.path for r in explorer.visible_rows if r.kind == "element" and not r.is_sequence}
    assert (
        f"PerFrameFunctionalGroupsSequence[{n_frames - 1}].PlanePositionSequence[0].ImagePositionPatient"
        in paths
    )
    assert "PatientName" not in paths
    assert "varies" in explorer.table.value


def test_unreadable_paths_raise_clear_errors(tmp_path):
    from dicom_widgets.errors import DicomReadError

    with pytest.raises(DicomReadError, match="file not found"):
        TagExplorer(tmp_path / "missing.dcm")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    with pytest.raises(DicomReadError, match="notes.txt"):
        TagExplorer(text_file)
    # DICOM without the preamble/file meta still opens
    explorer = TagExplorer(pydicom_file("no_meta"))
    assert explorer.rows


def test_hit_navigation_wraps_and_follows_pages():
    explorer = TagExplorer(read("ct_small"), page_size=5)
    explorer.query = "0010,0020"  # PatientID at the top and in two sequence items
    hits = [explorer.rows[i].path for i in sorted(explorer._hits)]
    assert len(hits) == 3
    seen = [explorer.selected_row.path]
    for _ in range(3):
        explorer.next_hit_button.click()
        seen.append(explorer.selected_row.path)
    assert seen == [hits[0], hits[1], hits[2], hits[0]]
    explorer.goto_hit(-1)
    assert explorer.selected_row.path == hits[2]
    assert explorer.selected_row.index in [r.index for r in explorer.page_rows]  # page followed
    explorer.query = ""
    assert explorer.next_hit_button.disabled


def test_empty_values_and_module_in_detail():
    explorer = TagExplorer(read("ct_small"))
    empty = next(
        r for r in explorer.rows if r.kind == "element" and r.summary == "" and not r.is_sequence
    )
    explorer.selected = empty.index
    assert "(empty)" in explorer.table.value
    explorer.query = "PatientName"
    assert "Module:" in explorer.detail.value and "Patient" in explorer.detail.value


def test_exact_keyword_match_is_selected_first():
    explorer = TagExplorer(read("ct_small"))
    explorer.query = "patient id"  # also matches OtherPatientIDs..., IssuerOfPatientID
    assert explorer.selected_row.path == "PatientID"
    explorer.query = "rows"
    assert explorer.selected_row.keyword == "Rows"


def test_varies_tab_prefers_slice_location_and_skips_pixels():
    explorer = TagExplorer(ct_phantom(n_slices=4, size=8))
    explorer.tabs.selected_index = 1
    label = dict((i, lbl) for lbl, i in explorer.plot_choice.options)[explorer.plot_choice.value]
    assert label == "SliceLocation"
    assert "PixelData" not in explorer.varies_table.value


def test_refresh_after_editing_the_dataset():
    ds = read("ct_small")
    explorer = TagExplorer(ds)
    explorer.query = "PatientName"
    ds.PatientName = "Edited^Name"
    assert "Edited" not in explorer.table.value  # cached until asked
    explorer.refresh()
    assert "Edited^Name" in explorer.table.value
    assert explorer.selected_row.keyword == "PatientName"


def test_depth_limit_collapses_sequences_but_search_reaches_deep():
    explorer = TagExplorer(read("rtplan"))
    total = explorer.n_visible
    explorer.depth_choice.value = 0
    assert explorer.max_depth == 0
    assert explorer.n_visible < total
    assert all(r.depth == 0 for r in explorer.visible_rows)
    explorer.query = "GantryAngle"  # deep inside BeamSequence[..].ControlPointSequence[..]
    assert explorer.n_hits > 0 and explorer.selected_row.depth >= 2
    explorer.query = ""
    explorer.max_depth = 4  # any depth, also beyond the dropdown's presets
    assert explorer.depth_choice.value == 4
    assert max(r.depth for r in explorer.visible_rows) <= 4
    explorer.max_depth = -7
    assert explorer.max_depth == -1 and explorer.n_visible == total


def test_static_fallback_and_short_repr():
    from dicom_widgets.data import pydicom_file
    from dicom_widgets.widgets.tag_explorer import TagExplorer

    explorer = TagExplorer(pydicom_file("ct_small"), debounce=0)
    explorer.query = "PatientName"
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "PatientName" in bundle["text/html"], "the page table is the static fallback"
    assert bundle["text/plain"].startswith("<TagExplorer 1 instance(s)")
    assert "query='PatientName'" in repr(explorer)
