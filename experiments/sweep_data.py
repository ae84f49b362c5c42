"""The data and models a budget sweep shares across its runs.

`load_data` loads a sweep's data once (classification data is cached in
memory) for every run; `build_model` builds the model of a run through the
sweep's task (`budgeted_keras.tasks`); `subset` draws the examples of the
`subsample` baseline.
"""

import dataclasses

import numpy as np
import tensorflow as tf

import budgeted_keras as bk
from budgeted_keras import tasks as tasks_lib
from experiments import sweep_config

# Evaluation batch of classification; the other tasks evaluate at the
# training batch size (their images are far larger).
EVAL_BATCH_SIZE = 500


@dataclasses.dataclass
class Data:
    """The data every run of a sweep shares, loaded (and cached) once.

    Attributes:
        task: The `budgeted_keras.tasks` task of the sweep.
        splits: Its unbatched `data.Splits`; `splits.train` is `train`.
        train: Unbatched training examples (cached in memory for
            classification).
        train_size, validation, test: The number of training examples and
            the batched evaluation sets (`validation` may be None).
        gradient_sample, gradient_sample_size: The batched, unaugmented
            sample the gradient norm is measured on, and its size.
        full_budget: The 100% `budgeted_keras.Budget`.
        description: Python str, where the data came from.
    """

    task: object
    splits: object
    train: tf.data.Dataset
    train_size: int
    validation: tf.data.Dataset
    test: tf.data.Dataset
    gradient_sample: tf.data.Dataset
    gradient_sample_size: int
    full_budget: bk.Budget
    description: str


def load_data(settings):
    """Loads and caches the data of `settings` (a `Settings`) for all runs.

    The gradient-norm sample is the first `grad_norm_examples` training
    examples (all of them for 0), unaugmented, in batches of the training
    batch size.

    Raises:
        ValueError: for sizes that do not fit the data;
            `data.DatasetNotFoundError` when a TFDS dataset is not prepared.
    """
    task = tasks_lib.get(settings.task)
    splits = task.load(
        settings.dataset,
        data_dir=settings.data_dir,
        validation_size=settings.validation_size,
        train_subset=settings.train_subset,
    )
    train = splits.train
    eval_batch_size = settings.batch_size
    if task.name == sweep_config.CLASSIFICATION:
        eval_batch_size = EVAL_BATCH_SIZE
        train = train.cache()
        for _ in train:  # Fills the cache: later runs read from memory.
            pass
    splits = dataclasses.replace(splits, train=train)
    full = bk.Budget(
        epochs=settings.full_epochs,
        steps_per_epoch=task.steps_per_epoch(train, settings.batch_size),
    )
    sample_size = settings.grad_norm_examples or splits.train_size
    sample_size = min(sample_size, splits.train_size)

    def batches(split, batch_size):
        return task.batches(split, batch_size, model=settings.model)

    return Data(
        task=task,
        splits=splits,
        train=train,
        train_size=splits.train_size,
        validation=(
            None
            if splits.validation is None
            else batches(splits.validation, eval_batch_size)
        ),
        test=batches(splits.test, eval_batch_size),
        gradient_sample=batches(train.take(sample_size), settings.batch_size),
        gradient_sample_size=sample_size,
        full_budget=full,
        description=splits.description,
    )


def subset(dataset, indices, size):
    """The examples of `dataset` (of `size` examples) at `indices`, in order."""
    mask = np.zeros(size, dtype=bool)
    mask[indices] = True
    mask = tf.constant(mask)
    subset = dataset.enumerate().filter(lambda i, example: mask[i])
    subset = subset.map(lambda i, example: example)
    return subset.apply(tf.data.experimental.assert_cardinality(len(indices)))


def build_model(settings, splits, seed=None):
    """The uncompiled model of `settings` for `splits`, seeded by `seed`."""
    task = tasks_lib.get(settings.task)
    width = {}
    if settings.model_width is not None:
        width = {"width": settings.model_width}
    return task.build_model(
        settings.model,
        splits,
        bn_momentum=settings.bn_momentum,
        seed=seed,
        **width,
    )
