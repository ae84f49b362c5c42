"""The data and models a budget sweep shares across its runs.

`load_data` loads a sweep's data once for every run (`Task.shared` keeps
small fixed-size images in memory); `build_model` builds the model of a run through the
sweep's task (`budgeted_keras.tasks`); `subset` draws the examples of the
`subsample` baseline.
"""

import dataclasses

import numpy as np
import tensorflow as tf

import budgeted_keras as bk
from budgeted_keras import tasks as tasks_lib


@dataclasses.dataclass
class Data:
    """The data every run of a sweep shares, loaded once.

    Attributes:
        task: The `budgeted_keras.tasks` task of the sweep.
        splits: Its unbatched `data.Splits`, the training split prepared
            for many runs (`Task.shared`).
        validation, test: The batched evaluation sets (`validation` may be
            None).
        gradient_sample, gradient_sample_size: The batched, unaugmented
            sample the gradient norm is measured on, and its size.
        full_budget: The 100% `budgeted_keras.Budget`.
    """

    task: object
    splits: object
    validation: tf.data.Dataset
    test: tf.data.Dataset
    gradient_sample: tf.data.Dataset
    gradient_sample_size: int
    full_budget: bk.Budget

    @property
    def train(self):
        """Unbatched training examples."""
        return self.splits.train

    @property
    def train_size(self):
        return self.splits.train_size

    @property
    def description(self):
        """Python str, where the data came from."""
        return self.splits.description


def load_data(settings):
    """Loads the data of `settings` (a `Settings`) once for all runs.

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
    train = task.shared(splits.train)
    splits = dataclasses.replace(splits, train=train)
    eval_batch_size = task.eval_batch_size or settings.batch_size
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
        validation=(
            None
            if splits.validation is None
            else batches(splits.validation, eval_batch_size)
        ),
        test=batches(splits.test, eval_batch_size),
        gradient_sample=batches(train.take(sample_size), settings.batch_size),
        gradient_sample_size=sample_size,
        full_budget=full,
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
