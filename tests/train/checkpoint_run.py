"""A training run for the SIGKILL test: ``python checkpoint_run.py OUT RESUME`` trains the
digits dense model for 6 epochs into OUT (resuming when RESUME is 1)."""

import sys

from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build

out, resume = sys.argv[1], sys.argv[2] == "1"
recipe = build("digits", "dense", 4, seed=1)
fit(recipe.model, recipe.data, recipe.encode, TrainConfig(epochs=6, batch_size=64, lr=2e-3,
                                                          seed=1), out, resume=resume,
    progress=False)
