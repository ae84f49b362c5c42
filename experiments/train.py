r"""Trains a model of a task under a budget and writes `result.json`.

The budget is a fraction of a full training recipe of `--full_epochs`;
the learning-rate schedule is budget-aware (it reaches its end value exactly
when the budget is spent). From the repository root:

    python -m experiments.train                      # digits, offline
    python -m experiments.train --budget=0.1 --schedule=step
    python -m experiments.train --dataset=cifar10 \
        --data_dir=../shared/data/tfds --model=cnn --full_epochs=15 \
        --batch_size=128 --augment --output_dir=runs/cifar10

`--task` picks classification (default), segmentation, detection or video,
each with its TFDS datasets and model configurations (README, "Tasks"):

    python -m experiments.train --task=segmentation --dataset=cityscapes \
        --data_dir=$TFDS_DATA_DIR --model=deeplabv3plus --full_epochs=215 \
        --batch_size=8 --learning_rate=0.01 --schedule=poly --augment
"""

from absl import app
from absl import flags

import budgeted_keras as bk
from experiments import train_flags
from experiments import train_lib

# `--help` lists the run flags defined in `train_flags`.
flags.adopt_module_key_flags(train_flags)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        experiment = train_lib.prepare(train_flags.config_from_flags())
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    try:
        train_lib.train_and_evaluate(experiment)
    except bk.callbacks.NonFiniteLossError as error:
        # A diverged run is an outcome of its settings, not a crash: one
        # line and exit status 1, no traceback.
        raise SystemExit(f"Training diverged: {error}") from None


if __name__ == "__main__":
    app.run(main)
