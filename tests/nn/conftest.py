import pytest


@pytest.fixture(autouse=True)
def event_path_for_small_layers():
    """The tests here use layers of a few outputs to check the event-driven path against the
    dense one; by default such small layers take the dense product (cheaper), so the
    threshold is lifted for them, and the density limit is fixed at 0.15 so that each test
    takes the path it was written for. The defaults are tested in test_registry.py."""
    from spikewave import kernels

    with kernels.use(min_event_outputs=1, max_density=0.15):
        yield
