"""One process of a data-parallel run for the tests: ``python ddp_run.py OUT EPOCHS
DIE_AT`` trains the digits dense model on the first 97 training samples (batches of 16:
six full ones and one of a single sample) for EPOCHS epochs into OUT, as rank RANK of
WORLD_SIZE (environment, as torchrun sets it). DIE_AT > 0: rank 1 ends itself abruptly
before its batch DIE_AT."""

import os
import sys

from spikewave.data.digits import Split
from spikewave.train import distributed as ddp
from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build

N_TRAIN, N_TEST, BATCH, TIME_STEPS, SEED = 97, 60, 16, 4, 3


def small_recipe():
    recipe = build("digits", "dense", TIME_STEPS, seed=SEED)
    d = recipe.data
    recipe.data = Split(d.x_train[:N_TRAIN], d.y_train[:N_TRAIN], d.x_test[:N_TEST],
                        d.y_test[:N_TEST], d.n_classes)
    return recipe


def config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=BATCH, lr=5e-3, seed=SEED)


if __name__ == "__main__":
    out, epochs, die_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx, device = ddp.from_environment("cpu", timeout_s=20.0)
    calls = [0]

    def augment(x, gen):
        calls[0] += 1
        if die_at and ctx.rank == 1 and calls[0] == die_at:
            os._exit(3)
        return x

    recipe = small_recipe()
    try:
        fit(recipe.model, recipe.data, recipe.encode, config(epochs), out, progress=False,
            augment=augment, dist=ctx)
    finally:
        ddp.shutdown(ctx)
