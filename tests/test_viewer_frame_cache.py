"""The viewer's browser-side frame cache, driven without a browser.

The cache is only correct if every frame it holds is, byte for byte, what the canvas would
send for that slice in the same state, and if every change other than the slice index
starts a new generation (so the browser drops the old frames). Both are checked here on
the real ipympl canvas; ``tests/browser/test_browser_viewer.py`` checks the painting.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import pytest

from dicom_widgets.data import ct_phantom
from dicom_widgets.series import load_series
from dicom_widgets.widgets._frame_cache import FrameCache
from dicom_widgets.widgets._viewer_render import SendRecorder
from dicom_widgets.widgets.viewer import PREFETCH_AHEAD, PREFETCH_BEHIND, SeriesViewer


class _Frames:
    """Record what the viewer sends to its frame cache: (generation, index) -> PNG bytes."""

    def __init__(self, viewer: SeriesViewer) -> None:
        self.by_key: dict[tuple[int, int], bytes] = {}
        cache = viewer.frame_cache.widget
        original = cache.send_frame

        def send_frame(generation: int, index: int, png: bytes) -> None:
            self.by_key[(generation, index)] = bytes(png)
            original(generation, index, png)

        cache.send_frame = send_frame


@pytest.fixture(scope="module")
def series():
    return load_series(ct_phantom(n_slices=16, size=64, noise=10.0, seed=5), progress=False)


@pytest.fixture
def viewer(series):
    viewer = SeriesViewer(series, window="brain", size=200, index=6)
    yield viewer
    viewer.close()


def test_the_cache_is_a_child_that_follows_the_slider(viewer):
    cache = viewer.frame_cache.widget
    assert isinstance(cache, FrameCache)
    assert cache in viewer.children
    # The browser side listens to this slider's model (no link, no trait of its own).
    assert cache.slider is viewer.controls.slider
    assert cache.get_state()["slider"] == f"IPY_MODEL_{viewer.controls.slider.model_id}"
    # The first frame on screen is in the cache already.
    assert cache.sent == [(viewer.frame_cache.generation, 6)]


def test_prefetched_frames_are_the_bytes_the_canvas_sends(viewer):
    frames = _Frames(viewer)
    sent = SendRecorder(viewer.canvas)
    generation = viewer.frame_cache.generation
    # From slice 6 of 16: every slice ahead up to the last (7..15) and the ones behind.
    assert PREFETCH_AHEAD >= 9
    assert viewer.prefetch() == 9 + PREFETCH_BEHIND
    assert viewer.prefetch() == 0  # all sent already
    for index in (7, 8, 9, 3, 12):  # ahead, behind, far ahead
        assert (generation, index) in frames.by_key
        viewer.index = index
        assert viewer.frame_cache.generation == generation  # a slice change keeps the generation
        assert sent.last == frames.by_key[(generation, index)], index


def test_prefetch_leaves_the_viewer_as_it_was(viewer):
    canvas = viewer.canvas
    pixels = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
    displayed = viewer.displayed.copy()
    annotations = dict(viewer.annotations)
    image = viewer.image.get_array().copy()
    viewer.prefetch()
    assert np.array_equal(np.asarray(canvas.get_renderer().buffer_rgba()), pixels)
    assert np.array_equal(viewer.displayed, displayed)
    assert viewer.annotations == annotations
    assert np.array_equal(viewer.image.get_array(), image)
    assert viewer.index == 6


def test_prefetch_follows_the_direction_of_travel(viewer):
    viewer.index = 5  # moving down
    order = viewer.frame_cache.order()
    assert order[:2] == [4, 3] and 6 not in order  # 6 was on screen: cached already
    viewer.index = 9  # moving up
    assert viewer.frame_cache.order()[:2] == [10, 11]
    viewer.index = 15  # the last slice: nothing beyond it
    assert all(0 <= j < 16 for j in viewer.frame_cache.order())


@pytest.mark.parametrize(
    "change",
    [
        lambda v: setattr(v, "preset", "bone"),
        lambda v: setattr(v, "window_center", 55.0),
        lambda v: setattr(v, "invert", True),
        lambda v: setattr(v, "show_annotations", False),
        lambda v: setattr(v, "hide_identifiers", True),
        lambda v: v.add_overlay(np.ones((16, 64, 64), np.uint8)),
        lambda v: setattr(v, "view", "coronal"),
        lambda v: v.model.layers["image"].changed(),  # a layer says its data changed
        lambda v: v.refresh(),
        # A line drawn by the user without refresh(): the next step already shows it.
        lambda v: (v.ax.plot([0, 60], [30, 30], color="red"), setattr(v, "index", v.index + 1)),
    ],
    ids=[
        "preset",
        "window",
        "invert",
        "annotations",
        "identifiers",
        "overlay",
        "view",
        "layer-changed",
        "refresh",
        "user-artist",
    ],
)
def test_any_other_change_starts_a_new_generation(viewer, change):
    frames = _Frames(viewer)
    before = viewer.frame_cache.generation
    viewer.prefetch(3)
    change(viewer)
    after = viewer.frame_cache.generation
    assert after > before
    index = viewer.index
    assert (after, index) in frames.by_key  # the new look is cached at once
    # ...and what is prefetched in the new generation matches the canvas again.
    sent = SendRecorder(viewer.canvas)
    viewer.prefetch(2)
    new = [j for (g, j) in frames.by_key if g == after and j != index]
    assert new
    viewer.index = new[0]
    assert viewer.frame_cache.generation == after
    assert sent.last == frames.by_key[(after, new[0])]


def test_ortho_frames_match_with_the_crosshair(series):
    viewer = SeriesViewer(series, window="brain", size=240, view="ortho")
    try:
        frames = _Frames(viewer)
        sent = SendRecorder(viewer.canvas)
        generation = viewer.frame_cache.generation
        viewer.prefetch(4)
        index = next(j for (g, j) in frames.by_key if g == generation)
        viewer.index = index
        assert sent.last == frames.by_key[(generation, index)]
    finally:
        viewer.close()


def test_no_cache_without_ipympl_or_when_switched_off(series):
    off = SeriesViewer(series, frame_cache=False)
    image = SeriesViewer(series, canvas="image")
    try:
        for viewer in (off, image):
            assert viewer.frame_cache is None
            assert not any(isinstance(c, FrameCache) for c in viewer.children)
            assert viewer.prefetch() == 0
            viewer.index = 3  # still renders as before
            assert viewer.annotations["bottom_left"].startswith("Im: 4/16")
    finally:
        off.close()
        image.close()


def test_closing_the_viewer_closes_the_cache(series):
    viewer = SeriesViewer(series)
    binding = viewer.frame_cache
    cache = binding.widget
    viewer.close()
    assert cache.comm is None
    binding.step()  # a prefetch scheduled before the close does nothing
    binding._settle_canvas()  # so does a deferred canvas send
    assert viewer.prefetch() == 0


def test_in_an_event_loop_neighbours_are_prefetched_when_idle(series):
    """In a kernel, prefetch runs one frame per loop turn after each step."""
    import asyncio

    async def scenario() -> list[tuple[int, int]]:
        viewer = SeriesViewer(series, window="brain", size=120, index=4)
        try:
            viewer.index = 5  # a step: the viewer schedules its prefetch
            for _ in range(40):
                await asyncio.sleep(0)
            return list(viewer.frame_cache.widget.sent)
        finally:
            viewer.close()

    sent = asyncio.run(scenario())
    generation = sent[-1][0]
    indices = {j for g, j in sent if g == generation}
    # 4 was on screen first, 5 is the step; then 6..15 ahead (up to the last slice) and
    # 3, 2, 1 behind (PREFETCH_BEHIND = 4 slices back from 5, 4 being cached already).
    assert (PREFETCH_AHEAD, PREFETCH_BEHIND) == (10, 4)
    assert indices == set(range(1, 16))


def test_in_an_event_loop_a_cached_step_reaches_ipympl_once_the_steps_settle():
    """The browser paints a cached step itself; ipympl gets it after SETTLE_S, unchanged.

    A step to a slice the browser has not got is sent at once; a step the browser painted
    from its cache reaches ipympl's canvas once no step came for ``SETTLE_S`` -- the last
    step's picture only, byte for byte the cached frame, in the same generation.
    """
    import asyncio

    from dicom_widgets.widgets._viewer_frames import SETTLE_S

    series = load_series(ct_phantom(n_slices=40, size=64, noise=10.0, seed=5), progress=False)

    async def scenario() -> dict:
        viewer = SeriesViewer(series, window="brain", size=120, index=4)
        frames = _Frames(viewer)
        sent = SendRecorder(viewer.canvas)
        try:
            generation = viewer.frame_cache.generation
            assert viewer.prefetch() > 0  # 5.. are in the browser now
            n0 = len(sent.frames)
            for index in (5, 6, 7):  # cached: painted by the browser, nothing sent yet
                viewer.index = index
                await asyncio.sleep(0)
            held = len(sent.frames) - n0
            await asyncio.sleep(SETTLE_S * 3)
            settled = sent.frames[n0:]
            assert 30 not in viewer.frame_cache.sent  # prefetch reached 7 + 10 = 17
            viewer.index = 30  # not cached: sent at once
            at_once = len(sent.frames) - n0 - len(settled)
            return {
                "held": held,
                "settled": settled,
                "cached_7": frames.by_key[(generation, 7)],
                "at_once": at_once,
                "generation_kept": viewer.frame_cache.generation == generation,
            }
        finally:
            viewer.close()

    result = asyncio.run(scenario())
    assert result["held"] == 0
    assert result["settled"] == [result["cached_7"]]  # the last step only, the cached bytes
    assert result["at_once"] == 1
    assert result["generation_kept"]


@pytest.mark.parametrize(
    "name", ["multiframe", "enhanced_ct", "us_cine", "us_cine_3d", "rgb_2frame", "rtdose"]
)
def test_real_files_prefetch_the_frames_the_canvas_sends(name):
    """Multi-frame MR and CT, YBR and JPEG cine, RGB, dose grids: cached frames stay exact."""
    from dicom_widgets.data import pydicom_file

    try:
        path = pydicom_file(name)
    except FileNotFoundError as exc:  # pydicom 2.4 does not ship every file
        pytest.skip(str(exc))
    viewer = SeriesViewer(str(path), size=160)
    try:
        assert viewer.n_slices >= 2
        frames = _Frames(viewer)
        sent = SendRecorder(viewer.canvas)
        generation = viewer.frame_cache.generation
        assert viewer.prefetch(3) >= 1
        for index in sorted(j for (g, j) in frames.by_key if g == generation):
            viewer.index = index
            assert viewer.frame_cache.generation == generation
            assert sent.last == frames.by_key[(generation, index)], (name, index)
    finally:
        viewer.close()


def test_draw_requests_from_another_thread_never_mix_into_frames(series):
    """ipykernel 7 runs widget messages on a subshell thread while the main thread prefetches.

    ipympl's "draw" request (a full draw and a frame) then races with the viewer's offscreen
    rendering; without the canvas lock a frame could show one slice's image under another
    slice's annotations. Every frame sent, either way, must be a clean frame of some slice.
    """
    import threading

    viewer = SeriesViewer(series, window="brain", size=120, index=4)
    try:
        frames = _Frames(viewer)
        sent = SendRecorder(viewer.canvas)
        stop = threading.Event()

        def draw_requests() -> None:
            while not stop.is_set():
                viewer.canvas._handle_message(viewer.canvas, {"type": "draw"}, [])

        drawer = threading.Thread(target=draw_requests, daemon=True)
        drawer.start()
        try:
            for index in (5, 6, 7, 8, 7, 6):
                viewer.prefetch()
                viewer.index = index
        finally:
            stop.set()
            drawer.join(timeout=30)
        generation = viewer.frame_cache.generation
        assert len(sent.frames) > 6  # the other thread did draw meanwhile
        # Clean reference frames, one per slice, drawn with nothing else running.
        reference = {}
        for index in range(viewer.n_slices):
            viewer.index = index
            reference[sent.last] = index
        mixed = [k for k, png in enumerate(sent.frames[: -viewer.n_slices]) if png not in reference]
        assert not mixed, f"{len(mixed)} frame(s) mixed two slices"
        for (g, index), png in frames.by_key.items():
            if g == generation:
                assert reference.get(png) == index
    finally:
        viewer.close()


@contextlib.contextmanager
def _slider_moves_during_the_next_render(viewer: SeriesViewer, index: int):
    """Within the block, the viewer's next render moves the slider to ``index`` from a thread.

    The move starts while the render holds the canvas (in its first call of the model's
    ``frame``), like a slider message on a kernel subshell; the render waits 0.3 s for it,
    so without the canvas lock the move would be half done (or done) inside the render.
    """
    frame = viewer.model.frame
    mover: list[threading.Thread] = []

    def frame_and_move(*args, **kwargs):
        if not mover:
            mover.append(threading.Thread(target=setattr, args=(viewer, "index", index)))
            mover[0].start()
            mover[0].join(timeout=0.3)  # blocked by the canvas lock, as it should be
        return frame(*args, **kwargs)

    viewer.model.frame = frame_and_move
    try:
        yield
        mover[0].join(timeout=30)
    finally:
        del viewer.model.frame
    assert not mover[0].is_alive()
    assert viewer.index == index


def test_a_slice_change_on_another_thread_during_prefetch_is_not_undone(series):
    """The slider's message arrives (subshell thread) while the main thread prefetches.

    The prefetch points the cursor at other slices and then puts back the cursor it saved;
    a move made in between must survive, so that the canvas shows the slice the slider
    says.
    """
    viewer = SeriesViewer(series, window="brain", size=120, index=4)
    try:
        sent = SendRecorder(viewer.canvas)
        with _slider_moves_during_the_next_render(viewer, 9):
            assert viewer.prefetch(3) == 3
        assert viewer.model.index == 9
        shown = sent.last
        # A clean frame of slice 9 for comparison: away and back.
        viewer.index = 8
        viewer.index = 9
        assert sent.last == shown
    finally:
        viewer.close()


def test_a_slice_change_on_another_thread_during_a_look_change_keeps_generations_apart(series):
    """A colormap change renders (main thread) while the slider's message arrives (subshell).

    The look change must start a new generation even though a slice change is waiting for
    the canvas meanwhile; otherwise the browser would mix frames of the two looks.
    """
    viewer = SeriesViewer(series, window="brain", size=120, index=4)
    try:
        frames = _Frames(viewer)
        generation = viewer.frame_cache.generation
        with _slider_moves_during_the_next_render(viewer, 9):
            viewer.cmap = "bone"
        # The colormap's frame (slice 4) opened a generation; slice 9 was drawn in it.
        assert (generation + 1, 4) in frames.by_key
        assert (generation + 1, 9) in frames.by_key
        assert viewer.frame_cache.generation == generation + 1
    finally:
        viewer.close()
