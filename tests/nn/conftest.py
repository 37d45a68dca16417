import pytest


@pytest.fixture(autouse=True)
def event_path_for_small_layers(monkeypatch):
    """The tests here use layers of a few outputs to check the event-driven path against the
    dense one; by default such small layers take the dense product (cheaper), so the
    threshold is lifted for them. The threshold itself is tested with its real value."""
    from spikewave.kernels import spike_linear

    monkeypatch.setattr(spike_linear, "MIN_EVENT_OUTPUTS", 1)
