"""``python -m spikewave`` is the ``spikewave`` command."""

import sys

from spikewave.cli import main

sys.exit(main())
