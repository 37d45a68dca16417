"""Training checkpoints, damaged: ``--resume`` gets the package's own error or exactly the
state that was saved (the content hash leaves no third way), within 10 s and 500 MB."""

from fuzz_bases import checkpoint_file
from fuzz_harness import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st
from mutations import mutated


def _original(torch_worker):
    outcome = torch_worker.call("checkpoint", checkpoint_file(), reader="checkpoint")
    assert outcome.kind == "ok", outcome.describe()
    return outcome.value


def test_undamaged_checkpoint_resumes(torch_worker):
    value = _original(torch_worker)
    assert value["start"] == 2 and value["history"] == 2


@fuzz_settings(quick=40)
@given(data=st.data())
def test_damaged_checkpoint(torch_worker, data):
    damaged = data.draw(mutated(checkpoint_file(), max_ops=2))
    outcome = torch_worker.call("checkpoint", damaged, reader="checkpoint")
    assert outcome.acceptable, outcome.describe()
    if outcome.kind == "ok":
        assert outcome.value == _original(torch_worker)
