"""Our event arrays are tonic's: tonic's transforms apply to them as they are, and tonic's
ToFrame gives our frames on the same events.

Binning conventions compared: ``events_to_frames(ev, T, D)`` puts event ``k`` in step
``floor(t_k T / D)`` for ``0 <= t_k < D``; tonic's ``ToFrame(time_window=D // T,
start_time=0, end_time=D)`` slices the windows ``[k D/T, (k+1) D/T)`` (``searchsorted`` on
the window edges). The two agree when ``D`` is a multiple of ``T``, and both index frames
``[t, p, y, x]``.
"""

import numpy as np
import pytest

tonic = pytest.importorskip("tonic", reason="the tonic extra (pip install spikewave[tonic])")
import tonic.transforms as tt  # noqa: E402
from tonic.datasets import NMNIST  # noqa: E402

from spikewave._validation import ParameterError  # noqa: E402
from spikewave.data.nmnist import (  # noqa: E402
    EVENT_DTYPE,
    as_events,
    decode_events,
    encode_events,
    events_to_frames,
)

SENSOR_SIZE = NMNIST.sensor_size  # (34, 34, 2): tonic's (width, height, polarities)


def _events(n, seed=0, duration_us=300_000):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, duration_us, n)), rng.integers(0, 2, n)
    return ev


def test_the_layout_is_tonics():
    assert EVENT_DTYPE == NMNIST.dtype
    assert EVENT_DTYPE.names == NMNIST.ordering == ("x", "y", "t", "p")
    ev = decode_events(encode_events(_events(50)))
    assert ev.dtype == NMNIST.dtype


@pytest.mark.parametrize(("time_steps", "duration_us"), [(30, 300_000), (7, 70_000),
                                                          (1, 1000)])
def test_tonic_to_frame_gives_our_frames(time_steps, duration_us):
    # events up to and past the end, some exactly on window edges
    ev = _events(3000, time_steps, duration_us + duration_us // 5)
    window = duration_us // time_steps
    ev["t"][::97] = (ev["t"][::97] // window) * window
    ev = np.sort(ev, order="t")
    ours = events_to_frames(ev, time_steps, duration_us)
    theirs = tt.ToFrame(sensor_size=SENSOR_SIZE, time_window=window, start_time=0,
                        end_time=duration_us)(ev)
    assert theirs.shape == ours.shape == (time_steps, 2, 34, 34)
    np.testing.assert_array_equal(theirs, ours)
    assert ours.sum() == np.count_nonzero(ev["t"] < duration_us) > 0


def test_denoise_keeps_events_with_a_recent_neighbour():
    """tonic's rule: an event is kept when a 4-neighbour pixel had an event less than
    ``filter_time`` before it (every pixel starts as if it had one at time 0, so the
    events here come later than ``filter_time``)."""
    ev = np.zeros(5, EVENT_DTYPE)
    ev["x"] = [5, 6, 20, 6, 30]
    ev["y"] = [5, 5, 20, 5, 30]
    ev["t"] = [5000, 5050, 5100, 20_000, 20_100]
    ev["p"] = [1, 0, 1, 1, 0]
    kept = tt.Denoise(filter_time=1000)(ev)
    assert kept.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(kept, ev[[1]])  # (6, 5) at 5050 us, 50 us after (5, 5)
    frames = events_to_frames(kept, 1, 300_000)
    assert frames.sum() == 1 and frames[0, 0, 5, 6] == 1


def test_denoise_and_drop_event_on_a_recording_then_our_frames():
    ev = decode_events(encode_events(_events(4000, 3)))
    before = events_to_frames(ev, 10)
    denoised = tt.Denoise(filter_time=10_000)(ev)
    assert 0 < len(denoised) < len(ev) and denoised.dtype == EVENT_DTYPE
    assert np.isin(denoised, ev).all()
    after = events_to_frames(denoised, 10)
    assert (after <= before).all() and after.sum() == len(denoised)
    dropped = tt.DropEvent(p=0.25)(ev)
    assert len(dropped) == len(ev) - int(0.25 * len(ev) + 0.5)
    assert dropped.dtype == EVENT_DTYPE and np.all(np.diff(dropped["t"]) >= 0)
    assert np.isin(dropped, ev).all()
    np.testing.assert_array_equal(
        events_to_frames(dropped, 10),
        tt.ToFrame(sensor_size=SENSOR_SIZE, time_window=30_000, start_time=0,
                   end_time=300_000)(dropped))


def test_a_composed_tonic_pipeline_on_our_events():
    ev = _events(2000, 4)
    pipeline = tt.Compose([tt.Denoise(filter_time=20_000),
                           tt.ToFrame(sensor_size=SENSOR_SIZE, time_window=10_000,
                                      start_time=0, end_time=300_000)])
    np.testing.assert_array_equal(pipeline(ev.copy()),
                                  events_to_frames(tt.Denoise(filter_time=20_000)(ev), 30))


def test_arrays_of_the_older_layout_still_read():
    ev = _events(300, 5)
    old = np.empty(len(ev), [("x", np.int16), ("y", np.int16), ("p", np.int8),
                             ("t_us", np.int64)])
    for f in ("x", "y", "p"):
        old[f] = ev[f]
    old["t_us"] = ev["t"]
    np.testing.assert_array_equal(as_events(old), ev)
    np.testing.assert_array_equal(events_to_frames(old, 5), events_to_frames(ev, 5))
    assert encode_events(old) == encode_events(ev)
    assert as_events(ev) is ev
    with pytest.raises(ParameterError, match="x, y, t, p"):
        as_events(np.zeros(3))
    bad = ev.copy()
    bad["x"][4] = -1
    with pytest.raises(ParameterError, match="off the sensor"):
        events_to_frames(bad, 5)


EVENT_TRANSFORMS = [
    tt.Downsample(spatial_factor=0.5), tt.RandomFlipUD(sensor_size=SENSOR_SIZE, p=1.0),
    tt.RandomFlipPolarity(p=1.0), tt.TimeJitter(std=100, clip_negative=True),
    tt.RefractoryPeriod(delta=1000), tt.CropTime(max=100_000),
    tt.SpatialJitter(sensor_size=SENSOR_SIZE, var_x=1, var_y=1, clip_outliers=True),
    tt.UniformNoise(sensor_size=SENSOR_SIZE, n=100), tt.TimeSkew(coefficient=1.1),
    tt.DropPixel(hot_pixel_frequency=1000), tt.DropEventByTime(duration_ratio=0.2),
    tt.DropEventByArea(sensor_size=SENSOR_SIZE, area_ratio=0.2), tt.Decimation(n=2),
    tt.MergePolarities(),
]


@pytest.mark.parametrize("transform", EVENT_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_tonics_event_transforms_keep_our_layout(transform):
    out = transform(_events(1000, 6))
    assert out.dtype == EVENT_DTYPE and len(out) > 0
    frames = events_to_frames(np.sort(out, order="t"), 10)
    assert frames.sum() == np.count_nonzero((out["t"] >= 0) & (out["t"] < 300_000))


def test_a_left_right_flip_mirrors_our_frames():
    ev = _events(1000, 7)
    flipped = tt.RandomFlipLR(sensor_size=SENSOR_SIZE, p=1.0)(ev.copy())
    np.testing.assert_array_equal(flipped["x"], 33 - ev["x"])
    np.testing.assert_array_equal(events_to_frames(flipped, 6),
                                  events_to_frames(ev, 6)[..., ::-1])


@pytest.mark.parametrize("transform", [
    tt.ToVoxelGrid(sensor_size=SENSOR_SIZE, n_time_bins=5),
    tt.ToTimesurface(sensor_size=SENSOR_SIZE, dt=10_000, tau=5000),
    tt.ToImage(sensor_size=SENSOR_SIZE)], ids=lambda t: type(t).__name__)
def test_tonics_representations_take_our_events(transform):
    out = transform(_events(1000, 8))
    assert out.shape[-2:] == (34, 34) and np.isfinite(out).all()
