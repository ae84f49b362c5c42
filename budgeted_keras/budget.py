"""Training budgets: the one place where durations become optimizer updates.

A budget is the number of optimizer updates a run may apply. People state
durations in many units (updates, epochs, examples, a fraction of a standard
recipe); `Budget` turns each of them into updates, once, so that schedules,
callbacks and scripts all count the same thing.
"""

import collections.abc
import math
import numbers

import keras
import tensorflow as tf

from budgeted_keras import _checks

_UNIT_ARGUMENTS = ("steps", "epochs", "examples")


def _number_gt0(name, value):
    return _checks.number(name, value, minimum=0, strict=True)


def _round_half_up(x, name, value):
    if not math.isfinite(x):
        raise ValueError(
            f"Argument `{name}` gives an infinite number of updates. "
            f"Received: {name}={value!r}"
        )
    return int(math.floor(x + 0.5))


def _holds_examples(dataset):
    """Whether `len(dataset)` would count examples rather than batches."""
    if isinstance(dataset, keras.utils.PyDataset):
        return False
    # Arrays, tensors and data frames have a shape; lists, tuples (of
    # arrays) and dicts (of features) are containers of examples.
    return hasattr(dataset, "shape") or isinstance(
        dataset,
        (str, bytes, collections.abc.Sequence, collections.abc.Mapping),
    )


def _dataset_batches(dataset):
    """Number of batches in one pass over `dataset` (must be known)."""
    if isinstance(dataset, tf.data.Dataset):
        cardinality = int(dataset.cardinality())
        if cardinality == tf.data.INFINITE_CARDINALITY:
            raise ValueError(
                "Argument `dataset` has infinite cardinality (it repeats "
                "forever), so an epoch has no length; pass `steps_per_epoch` "
                "instead. Received: dataset with cardinality=INFINITE"
            )
        if cardinality == tf.data.UNKNOWN_CARDINALITY:
            raise ValueError(
                "Argument `dataset` has unknown cardinality (e.g. after "
                "`filter`); pass `steps_per_epoch` instead, or use "
                "`dataset.apply(tf.data.experimental.assert_cardinality(n))`."
                " Received: dataset with cardinality=UNKNOWN"
            )
        if cardinality < 1:
            raise ValueError(
                "Argument `dataset` must hold at least one batch. "
                f"Received: dataset with cardinality={cardinality}"
            )
        return cardinality
    if _holds_examples(dataset):
        shape = getattr(dataset, "shape", None)
        size = (
            f" of length {len(dataset)}"
            if shape is None
            else f" of shape {shape}"
        )
        received = type(dataset).__name__ + size
        raise ValueError(
            "Argument `dataset` must be a batched `tf.data.Dataset` or an "
            "object whose `len()` is batches (such as `keras.utils.PyDataset`)"
            "; the length of arrays, tensors and Python sequences counts "
            "examples, not batches. Pass `steps_per_epoch=ceil(num_examples "
            "/ batch_size)` instead, or `examples=` with `batch_size=`. "
            f"Received: dataset={received}"
        )
    if hasattr(dataset, "__len__"):
        return _checks.integer("len(dataset)", len(dataset))
    raise ValueError(
        "Argument `dataset` must be a batched `tf.data.Dataset` or an object "
        "with `len()` (such as `keras.utils.PyDataset`). "
        f"Received: dataset of type {type(dataset).__name__}"
    )


class Budget:
    """A number of optimizer updates a training run may apply.

    Give the duration in exactly one unit:

    - `steps`: optimizer updates, as they are;
    - `epochs` with `steps_per_epoch` (batches per epoch) or with a batched
      `dataset` whose cardinality is known: `round(epochs * batches_per_epoch)`
      batches;
    - `examples` with `batch_size`: `ceil(examples / batch_size)` batches (a
      last, smaller batch is still a batch).

    With gradient accumulation an update is applied once every
    `gradient_accumulation_steps` batches; a budget counts *applied* updates, so
    batch-based units are divided by it (rounded down: batches that would not
    complete an update are not part of the budget), and `steps` is taken as
    applied updates directly. `batches` is the matching number of batches
    (`model.fit` steps, and the values `optimizer.iterations` walks through in
    Keras when accumulation is on).

    Use `fraction` to derive a budget from a full one, as the budgeted-training
    literature does (a 25% budget of a 90-epoch recipe):

    >>> full = Budget(epochs=90, steps_per_epoch=100)
    >>> full.fraction(0.25).steps
    2250

    Args:
        steps: Python int >= 1. Applied optimizer updates.
        epochs: Python float > 0. Passes over the data.
        steps_per_epoch: Python int >= 1. Batches per epoch, with `epochs`.
        dataset: A batched `tf.data.Dataset` with known, finite cardinality,
            taken as batches per epoch (an unbatched one would count
            examples), or an object whose `len()` is batches per epoch, such
            as a `keras.utils.PyDataset`; with `epochs`. Arrays, tensors,
            lists, tuples and dicts are rejected: their length counts
            examples, so give `steps_per_epoch` (or `examples` with
            `batch_size`) for them.
        examples: Python float > 0. Training examples to process.
        batch_size: Python int >= 1. Examples per batch, with `examples`.
        gradient_accumulation_steps: Python int >= 1, default 1. Batches per
            applied update; match the optimizer's argument of the same name.

    Raises:
        ValueError: when no unit or more than one unit is given, a companion
            argument is missing or given without its unit, a value is not
            finite or not positive, a dataset's cardinality is unknown or
            infinite, `dataset` is a container of examples, or the result is
            less than one update. The message names
            the argument and the value received.
    """

    def __init__(
        self,
        steps=None,
        *,
        epochs=None,
        steps_per_epoch=None,
        dataset=None,
        examples=None,
        batch_size=None,
        gradient_accumulation_steps=1,
    ):
        given = {
            name: value
            for name, value in zip(_UNIT_ARGUMENTS, (steps, epochs, examples))
            if value is not None
        }
        if len(given) != 1:
            received = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ValueError(
                "Exactly one of the arguments `steps`, `epochs` or `examples` "
                f"must be given. Received: {received or 'none of them'}"
            )
        self._accum = _checks.integer(
            "gradient_accumulation_steps", gradient_accumulation_steps
        )
        if epochs is None and (steps_per_epoch, dataset) != (None, None):
            name = "steps_per_epoch" if dataset is None else "dataset"
            raise ValueError(
                f"Argument `{name}` is only meaningful with `epochs`. "
                f"Received: {name} with {next(iter(given))}="
                f"{next(iter(given.values()))!r}"
            )
        if examples is None and batch_size is not None:
            raise ValueError(
                "Argument `batch_size` is only meaningful with `examples`. "
                f"Received: batch_size={batch_size!r}"
            )

        if steps is not None:
            self._steps = _checks.integer("steps", steps)
            self._source = f"steps={self._steps}"
            return
        if epochs is not None:
            epochs = _number_gt0("epochs", epochs)
            if (steps_per_epoch is None) == (dataset is None):
                raise ValueError(
                    "With `epochs`, exactly one of `steps_per_epoch` or "
                    "`dataset` must be given. Received: "
                    f"steps_per_epoch={steps_per_epoch!r}, dataset="
                    f"{'None' if dataset is None else type(dataset).__name__}"
                )
            if steps_per_epoch is not None:
                per_epoch = _checks.integer("steps_per_epoch", steps_per_epoch)
            else:
                per_epoch = _dataset_batches(dataset)
            batches = _round_half_up(epochs * per_epoch, "epochs", epochs)
            self._source = f"epochs={epochs:g} x {per_epoch} batches per epoch"
            argument, value = "epochs", epochs
        else:
            examples = _number_gt0("examples", examples)
            if batch_size is None:
                raise ValueError(
                    "Argument `batch_size` is required with `examples`. "
                    "Received: batch_size=None"
                )
            batch_size = _checks.integer("batch_size", batch_size)
            batches = math.ceil(examples / batch_size)
            self._source = f"examples={examples:g} / batch_size={batch_size}"
            argument, value = "examples", examples
        self._steps = batches // self._accum
        if self._steps < 1:
            raise ValueError(
                f"Argument `{argument}` gives {batches} batch(es), less than "
                f"one update of {self._accum} accumulated batch(es). "
                f"Received: {argument}={value!r}"
            )

    @property
    def steps(self):
        """Python int >= 1: applied optimizer updates in the budget."""
        return self._steps

    @property
    def gradient_accumulation_steps(self):
        """Python int >= 1: batches per applied update."""
        return self._accum

    @property
    def batches(self):
        """Python int: batches (`model.fit` steps) the budget spans."""
        return self._steps * self._accum

    def fraction(self, fraction):
        """Returns a new budget that is `fraction` of this one.

        The number of updates is `round(fraction * steps)` (halves rounded
        up); the accumulation setting is kept.

        Args:
            fraction: Python float > 0. Values above 1 give a longer budget.

        Raises:
            ValueError: if `fraction` is not a finite number > 0, or if the
                result is less than one update.
        """
        fraction = _number_gt0("fraction", fraction)
        steps = _round_half_up(fraction * self._steps, "fraction", fraction)
        if steps < 1:
            raise ValueError(
                f"Argument `fraction` of a {self._steps}-update budget is "
                f"less than one update. Received: fraction={fraction!r}"
            )
        budget = Budget(steps=steps, gradient_accumulation_steps=self._accum)
        budget._source = f"{fraction:g} x ({self._source})"
        return budget

    def epochs_for(self, steps_per_epoch):
        """Epochs to pass to `model.fit` so that the budget fits in them.

        The last epoch may be partial: `BudgetCallback` stops training after
        exactly `batches` batches.

        Args:
            steps_per_epoch: Python int >= 1. Batches per epoch.
        """
        steps_per_epoch = _checks.integer("steps_per_epoch", steps_per_epoch)
        return math.ceil(self.batches / steps_per_epoch)

    def progress(self, updates):
        """Fraction of the budget that `updates` applied updates use."""
        return updates / self._steps

    def get_config(self):
        return {
            "steps": self._steps,
            "gradient_accumulation_steps": self._accum,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        if not isinstance(other, Budget):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self):
        return hash((self._steps, self._accum))

    @property
    def description(self):
        """Python str: the resolved budget and the duration it came from."""
        return f"{self._steps} updates (from {self._source})"

    def __repr__(self):
        accum = (
            f", gradient_accumulation_steps={self._accum}"
            if self._accum != 1
            else ""
        )
        return f"Budget(steps={self._steps}{accum})"


def as_budget(budget, name="budget"):
    """Returns `budget` as a `Budget`; a positive int means that many updates.

    Raises:
        ValueError: naming `name` when `budget` is neither.
    """
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, dict):
        return Budget.from_config(budget)
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral):
        raise ValueError(
            f"Argument `{name}` must be a `Budget` or a positive int of "
            f"updates. Received: {name}={budget!r}"
        )
    if budget < 1:
        raise ValueError(
            f"Argument `{name}` must be >= 1 update. "
            f"Received: {name}={budget!r}"
        )
    return Budget(steps=int(budget))
