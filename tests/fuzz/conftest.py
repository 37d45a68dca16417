"""The fuzz suite: workers under a memory cap and a time limit, and the case counts.

Quick in the default suite (a few dozen cases per reader); ``make fuzz`` sets
``SPIKEWAVE_FUZZ_EXAMPLES`` (10,000) and runs it long, slow tests included.
"""

import pytest
from fuzz_harness import COUNTS, Isolated


@pytest.fixture(scope="session")
def data_worker():
    worker = Isolated()
    yield worker
    worker.close()


@pytest.fixture(scope="session")
def torch_worker():
    worker = Isolated(torch_too=True)
    yield worker
    worker.close()


def pytest_terminal_summary(terminalreporter):
    if COUNTS:
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(COUNTS.items()))
        terminalreporter.write_line(f"fuzz cases run per reader: {counts}")
