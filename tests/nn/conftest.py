import pytest


@pytest.fixture(autouse=True)
def event_path_for_small_layers(monkeypatch):
    """The tests here use layers of a few outputs to check the event-driven path against the
    dense one; by default such small layers take the dense product (cheaper), so the
    threshold is lifted for them, and the density crossover, measured on the machine by
    default, is fixed at 0.15 so that each test takes the path it was written for. The
    threshold and the measurement are tested themselves in test_spike_linear.py."""
    from spikewave.kernels import dispatch, spike_linear

    monkeypatch.setattr(spike_linear, "MIN_EVENT_OUTPUTS", 1)
    monkeypatch.setenv(dispatch.ENV_OVERRIDE, "0.15")
