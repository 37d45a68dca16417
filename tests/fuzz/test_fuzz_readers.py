"""Every reader on damaged files: the package's own error or a correct result, within 10 s
and 500 MB (each case runs in a capped worker process, see fuzz_harness).

"Correct" is checked against reference parsers written from the formats' definitions
(fuzz_bases): where the damaged file is still a valid file, the reader returns exactly
what the reference reads; where it is not, the reader raises DataError/ParameterError.
"""

import gzip

import numpy as np
import pytest
from fuzz_bases import (
    archive_gz,
    archive_tar,
    idx_fields,
    idx_file,
    mnist_files,
    nmnist_bin,
    nmnist_zip,
    reference_events,
    reference_idx,
    shd_file,
    tar_fields,
)
from fuzz_harness import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st
from mutations import mutated

IDX_BASES = [idx_file("u1", (3, 4, 5)), idx_file("i2", (2, 3)), idx_file("f4", (4,), 1),
             idx_file("u1", (2, 28, 28), 2), idx_file("u1", (6,), 3)]
IDX_BASES += [gzip.compress(b, mtime=0) for b in IDX_BASES[:3]]


def _check(outcome):
    assert outcome.acceptable, outcome.describe()


def _same_array(summary: dict, ref: np.ndarray) -> bool:
    import hashlib

    return (tuple(summary["shape"]) == ref.shape and summary["dtype"] == str(ref.dtype)
            and summary["sha"] == hashlib.sha256(np.ascontiguousarray(ref).tobytes())
            .hexdigest()[:16])


@fuzz_settings(quick=60)
@given(data=st.data())
def test_idx(data_worker, data):
    base = data.draw(st.sampled_from(IDX_BASES))
    raw = gzip.decompress(base) if base[:2] == b"\x1f\x8b" else base
    damaged = data.draw(mutated(base, idx_fields(raw[3]) if base is raw else ()))
    outcome = data_worker.call("idx", damaged, reader="idx")
    _check(outcome)
    ref = reference_idx(damaged)
    if outcome.kind == "ok":
        assert ref is not None and _same_array(outcome.value, ref), outcome.value
        assert outcome.value["native"]
    else:
        assert ref is None, f"a valid IDX file refused: {outcome.value}"


@fuzz_settings(quick=30)
@given(data=st.data())
def test_mnist_folder(data_worker, data):
    files = dict(mnist_files())
    name = data.draw(st.sampled_from(sorted(files)))
    raw = gzip.decompress(files[name]) if name.endswith(".gz") else files[name]
    fields = idx_fields(raw[3]) if not name.endswith(".gz") else ()
    files[name] = data.draw(mutated(files[name], fields))
    outcome = data_worker.call("mnist", files, False, reader="mnist-folder")
    _check(outcome)
    if outcome.kind == "ok":
        v = outcome.value
        assert v["x_train"][1:] == (28, 28) and v["x_test"][1:] == (28, 28)
        assert len(v["y_train"]) == v["x_train"][0] and len(v["y_test"]) == v["x_test"][0]
        assert all(0 <= y <= 9 for y in v["y_train"] + v["y_test"])
        assert 0.0 <= v["x_range"][0] <= v["x_range"][1] <= 1.0
        for key, x in files.items():
            assert reference_idx(x) is not None, key


BIN_BASES = [nmnist_bin(40, 0), nmnist_bin(1, 1), nmnist_bin(0, 2)]


@fuzz_settings(quick=60)
@given(data=st.data())
def test_nmnist_bin(data_worker, data):
    base = data.draw(st.sampled_from(BIN_BASES))
    damaged = data.draw(mutated(base))
    outcome = data_worker.call("nmnist_bin", damaged, reader="nmnist-bin")
    _check(outcome)
    ref = reference_events(damaged)
    if outcome.kind == "ok":
        import hashlib

        assert ref is not None
        v = outcome.value
        assert v["n"] == len(ref) and v["t_sorted"] and v["x_max"] < 34 and v["y_max"] < 34
        assert v["sha"] == hashlib.sha256(ref.tobytes()).hexdigest()[:16]
    else:
        assert ref is None, f"a valid recording refused: {outcome.value}"


TAR = archive_tar(3)
TAR_NO_HEADER = archive_tar(3, listing_header=False)
GZ = archive_gz(3)


@fuzz_settings(quick=40)
@given(data=st.data())
def test_nmnist_archive(data_worker, data):
    layer = data.draw(st.sampled_from(["gzip", "tar", "tar-plain"]))
    if layer == "gzip":
        damaged = data.draw(mutated(GZ))
    else:
        base = data.draw(st.sampled_from([TAR, TAR_NO_HEADER]))
        damaged_tar = data.draw(mutated(base, tar_fields(base)))
        damaged = gzip.compress(damaged_tar, mtime=0) if layer == "tar" else damaged_tar
    outcome = data_worker.call("nmnist_archive", damaged, 3, reader="nmnist-archive")
    _check(outcome)
    if outcome.kind == "ok":
        v = outcome.value
        assert v["x_train"][1:] == (3, 2, 34, 34) and v["x_test"][1:] == (3, 2, 34, 34)
        assert len(v["y_train"]) == v["x_train"][0] and len(v["y_test"]) == v["x_test"][0]
        assert all(0 <= y <= 9 for y in v["y_train"] + v["y_test"])


def test_nmnist_archive_undamaged(data_worker):
    """The bases themselves read correctly (so the fuzz starts from valid files)."""
    for base in (GZ, TAR, gzip.compress(TAR_NO_HEADER, mtime=0)):
        outcome = data_worker.call("nmnist_archive", base, 3, reader="nmnist-archive")
        assert outcome.kind == "ok", outcome.describe()
        assert outcome.value["y_train"] == [1, 2] and outcome.value["y_test"] == [7]


ZIP = nmnist_zip()


@fuzz_settings(quick=40)
@given(data=st.data())
def test_nmnist_zip(data_worker, data):
    """The original layout's archive, damaged: the package's own error, or recordings that
    are valid events with labels from their digit folders."""
    damaged = data.draw(mutated(ZIP))
    outcome = data_worker.call("nmnist_zip", damaged, reader="nmnist-zip")
    _check(outcome)
    if outcome.kind == "ok":
        v = outcome.value
        assert len(v["labels"]) == len(v["events"]) >= 1
        assert all(0 <= y <= 9 for y in v["labels"])
        assert all(e["x_max"] < 34 and e["y_max"] < 34 and e["t_sorted"] for e in v["events"])


def test_nmnist_zip_undamaged(data_worker):
    outcome = data_worker.call("nmnist_zip", ZIP, reader="nmnist-zip")
    assert outcome.kind == "ok", outcome.describe()
    assert outcome.value["labels"] == [0, 1, 2]
    assert [e["n"] for e in outcome.value["events"]] == [12, 12, 12]


@fuzz_settings(quick=40)
@given(data=st.data())
def test_shd_bytes(data_worker, data):
    damaged = data.draw(mutated(shd_file(), max_ops=2))
    outcome = data_worker.call("shd", damaged, reader="shd")
    _check(outcome)
    if outcome.kind == "ok":
        v = outcome.value
        assert v["units_ok"] and v["times_ok"] and all(0 <= y < 20 for y in v["labels"])
        assert len(v["lengths"]) == v["n"]


def _field(kind_choices, n):
    return st.one_of(
        st.builds(lambda base, vals: {"kind": "vlen", "n": n, "base": base, "values": vals},
                  st.sampled_from(kind_choices),
                  st.lists(st.lists(st.one_of(st.floats(-1, 800), st.sampled_from(
                      [float("nan"), float("inf")])), max_size=4), min_size=n, max_size=n)),
        st.builds(lambda base: {"kind": "empty_vlen", "n": n, "base": base},
                  st.sampled_from(kind_choices)),
        st.sampled_from([{"kind": "missing"}, {"kind": "group"}, {"kind": "softlink"},
                         {"kind": "compound", "n": n}, {"kind": "scalar", "value": 3},
                         {"kind": "string", "values": ["a"] * n},
                         {"kind": "declared", "shape": [n], "dtype": "f4"},
                         {"kind": "declared", "shape": [n, 2], "dtype": "i4"}]),
    )


@st.composite
def shd_specs(draw):
    n = draw(st.integers(0, 4))
    labels = st.one_of(
        st.builds(lambda v, dt: {"kind": "array", "values": v, "dtype": dt},
                  st.lists(st.one_of(st.integers(-3, 25), st.floats(allow_nan=True)),
                           min_size=n, max_size=n),
                  st.sampled_from(["u1", "i2", "i8", "f8", "c8"])),
        st.just({"kind": "declared", "shape": [n], "dtype": "u2"}),
        _field(["i4"], n))
    return {"spikes/times": draw(_field(["f4", "f8", "f2", "i4", "c8"], n)),
            "spikes/units": draw(_field(["u2", "i8", "f4", "u1"], n)),
            "labels": draw(labels)}


@fuzz_settings(quick=40)
@given(spec=shd_specs())
def test_shd_structure(data_worker, spec):
    outcome = data_worker.call("shd_structured", spec, reader="shd")
    _check(outcome)
    if outcome.kind == "ok":
        v = outcome.value
        assert v["units_ok"] and v["times_ok"] and all(0 <= y < 20 for y in v["labels"])
        assert spec["labels"]["kind"] in ("array", "declared")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["idx", "idx.gz", "bin", "archive", "shd"])
def test_truncation_at_every_byte(data_worker, name):
    """Every prefix of a valid file: an error of the package, or (the whole file) the
    correct result."""
    base, target, args = {
        "idx": (IDX_BASES[0], "idx", ()), "idx.gz": (IDX_BASES[5], "idx", ()),
        "bin": (BIN_BASES[0], "nmnist_bin", ()), "archive": (GZ, "nmnist_archive", (3,)),
        "shd": (shd_file(), "shd", ())}[name]
    reader = {"idx": "idx", "nmnist_bin": "nmnist-bin", "nmnist_archive": "nmnist-archive",
              "shd": "shd"}[target]
    for cut in range(len(base) + 1):
        outcome = data_worker.call(target, base[:cut], *args, reader=reader)
        assert outcome.acceptable, (cut, outcome.describe())
        if cut == len(base):
            assert outcome.kind == "ok", outcome.describe()
        elif name != "bin" or cut % 5:
            assert outcome.kind == "own", (cut, outcome.describe())
