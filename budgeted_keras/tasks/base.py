"""What every task provides, and the TFDS plumbing the tasks share.

A task (classification, segmentation, detection, video) turns a TFDS
dataset into train, validation and test splits, batches a split for
training or evaluation, builds a model from a named configuration,
compiles it with the task's loss and metrics, and evaluates it with the
task's standard metric. `experiments.train_lib` runs any of them under a
budget the same way.
"""

import dataclasses

import keras
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import data as data_lib
from budgeted_keras import models as models_lib

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The training settings of a standard recipe, as run settings name them.

    Attributes:
        batch_size: Python int, examples per batch.
        learning_rate: Python float, the base (peak) learning rate.
        weight_decay: Python float, decoupled weight decay.
        optimizer: Python str, "sgd" (always with momentum 0.9), "adam" or
            "adamw".
        warmup_fraction: Python float, warmup as a fraction of the budget.
    """

    batch_size: int
    learning_rate: float
    weight_decay: float
    optimizer: str = "sgd"
    warmup_fraction: float = 0.0

    def settings(self):
        """The recipe as a dict of `experiments.config.TrainConfig` fields."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A named model configuration of a task and its standard recipe.

    Attributes:
        name: Python str, the `--model` value.
        description: Python str, what is built.
        input_size: Tuple of Python ints: `(height, width)` of images, or
            `(frames, height, width)` of clips; None for the dataset's own.
        options: Dict of builder options (widths, depths, augmentation).
        full_budget: Python str, what 100% means in the standard recipe
            (None for the small configurations used by CPU tests).
        full_epochs: Optional Python float, that budget in epochs (the
            `--full_epochs` value that reproduces it).
        recipe: The `Recipe` of the standard recipe's training settings;
            None for the small configurations.
    """

    name: str
    description: str
    input_size: tuple = None
    options: dict = dataclasses.field(default_factory=dict)
    full_budget: str = None
    full_epochs: float = None
    recipe: Recipe = None


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """How a task reads one TFDS dataset.

    Attributes:
        tfds_name: Python str, the name given to `tfds.builder`.
        train_splits: Tuple of TFDS split names trained on (concatenated);
            the validation set is carved from their end.
        test_split: Python str, the split reported (`test_*` results).
        num_classes: Python int.
        options: Dict of dataset-specific settings for the task.
    """

    tfds_name: str
    train_splits: tuple
    test_split: str
    num_classes: int
    options: dict = dataclasses.field(default_factory=dict)


class Task:
    """Base class of the tasks; subclasses fill in the class attributes.

    Attributes:
        name: Python str, the `--task` value.
        metric_names: Tuple of the keys `evaluate` returns.
        primary_metric: Python str, the key logged as the run's result.
        datasets: Dict of dataset name -> `DatasetSpec`.
        default_dataset: Python str.
        configs: Dict of model name -> `ModelConfig`.
        default_model: Python str, the small configuration.
        standard_model: Python str, the standard configuration (one with
            a `full_budget` and a `recipe`).
        eval_batch_size: Python int, the batch of evaluation passes that
            repeat over many runs (a sweep's); None: the training batch.
    """

    name = None
    metric_names = ()
    primary_metric = None
    datasets = {}
    default_dataset = None
    configs = {}
    default_model = None
    standard_model = None
    eval_batch_size = None

    def model_names(self):
        """The model names this task builds."""
        return list(self.configs)

    def model_config(self, model):
        """The `ModelConfig` named `model` (ValueError if unknown)."""
        if model not in self.configs:
            raise ValueError(
                f"Argument `model` must be one of {self.model_names()} for "
                f"task={self.name!r}. Received: model={model!r}"
            )
        return self.configs[model]

    def dataset_spec(self, dataset):
        """The `DatasetSpec` of `dataset` (ValueError if unknown)."""
        if dataset not in self.datasets:
            raise ValueError(
                f"Argument `dataset` must be one of {list(self.datasets)} "
                f"for task={self.name!r}. Received: dataset={dataset!r}"
            )
        return self.datasets[dataset]

    def load(
        self,
        dataset,
        *,
        data_dir=None,
        download=False,
        validation_size=0,
        train_subset=None,
    ):
        """Loads `dataset` as unbatched, decoded `data.Splits`.

        Args:
            dataset: Python str, a name in `datasets`.
            data_dir: Optional Python str. TFDS data folder.
            download: Python bool. Whether TFDS may download; off by
                default, so that a missing dataset is an error saying how
                to provide it.
            validation_size: Python int >= 0. Training examples held out
                (from the end) as a validation set.
            train_subset: Optional Python int >= 1. Train on only the
                first this many remaining examples.

        Raises:
            data.DatasetNotFoundError: if the dataset is not prepared.
            ValueError: for an unknown dataset or invalid sizes.
        """
        spec = self.dataset_spec(dataset)
        builder = data_lib.tfds_builder(
            spec.tfds_name, data_dir=data_dir, download=download
        )
        sizes = [data_lib.num_examples(builder, s) for s in spec.train_splits]
        (t0, t1), (v0, v1) = data_lib._slice(
            sum(sizes), validation_size, train_subset
        )

        def read(split, training):
            import tensorflow_datasets as tfds

            examples = builder.as_dataset(
                split=split,
                shuffle_files=training,
                decoders=self.decoders(spec),
                read_config=tfds.ReadConfig(
                    num_parallel_calls_for_decode=AUTOTUNE,
                    num_parallel_calls_for_interleave_files=AUTOTUNE,
                ),
            )
            return examples.map(
                lambda example: self.decode(example, spec, training),
                num_parallel_calls=AUTOTUNE,
            )

        train_split = _split_range(spec.train_splits, sizes, t0, t1)
        validation_split = _split_range(spec.train_splits, sizes, v0, v1)
        return data_lib.Splits(
            train=read(train_split, True),
            validation=(read(validation_split, False) if v1 > v0 else None),
            test=read(spec.test_split, False),
            num_classes=spec.num_classes,
            input_shape=None,
            train_size=t1 - t0,
            description=(
                f"TFDS {builder.info.full_name}: train {train_split}, "
                f"validation {validation_split if v1 > v0 else '-'}, "
                f"test {spec.test_split}"
            ),
        )

    def decoders(self, spec):
        """TFDS `decoders` for `as_dataset` (None: TFDS decodes all)."""
        return None

    def decode(self, example, spec, training):
        """Maps one TFDS example to the task's unbatched element."""
        raise NotImplementedError

    def batches(
        self,
        split,
        batch_size,
        *,
        model,
        training=False,
        shuffle_seed=None,
        augment=False,
    ):
        """Batches an unbatched split for `fit` or evaluation.

        Args:
            split: Unbatched `tf.data.Dataset` from `load`.
            batch_size: Python int >= 1.
            model: Python str, the model configuration (input size).
            training: Python bool. Training preprocessing (random crops at
                the configured scale) rather than the evaluation resize.
            shuffle_seed: Optional Python int. Reshuffle every epoch with
                this seed; None keeps the order.
            augment: Python bool. Apply the task's usual augmentation.

        Returns:
            A batched, prefetched `tf.data.Dataset` of known cardinality.
        """
        raise NotImplementedError

    def training_stream(
        self, split, batch_size, *, model, seed, augment=False, start_epoch=0
    ):
        """An endless stream of training batches for `fit`.

        Epochs follow each other without a break: `steps_per_epoch(split,
        batch_size)` batches each (the last batch of an epoch may be
        smaller), reshuffled every epoch through a buffer seeded by `seed`.
        A run resumed at `start_epoch` > 0 continues with a reproducible
        order seeded by `(seed, start_epoch)`, not the exact batches an
        uninterrupted run would have seen (that needs the whole split in
        memory, as classification's stream does).

        Args:
            split: Unbatched `tf.data.Dataset` from `load`.
            batch_size: Python int >= 1.
            model: Python str, the model configuration.
            seed: Python int. Data order and augmentation seed.
            augment: Python bool. Apply the task's usual augmentation.
            start_epoch: Python int >= 0. Epoch the stream starts at.
        """
        start_epoch = _checks.integer("start_epoch", start_epoch, minimum=0)
        if start_epoch:
            seed = seed * 1_000_003 + start_epoch
        return self.batches(
            split,
            batch_size,
            model=model,
            training=True,
            shuffle_seed=seed,
            augment=augment,
        ).repeat()

    def shared(self, split):
        """`split` prepared to be read again by many runs (a sweep's).

        By default it is read again from its files each time; tasks whose
        examples are small enough keep them in memory instead.
        """
        return split

    def steps_per_epoch(self, split, batch_size):
        """Batches in one pass over an unbatched split of known size."""
        return data_lib.steps_per_epoch(split, batch_size)

    def build_model(self, model, splits, *, bn_momentum=0.99, seed=None):
        """Builds the uncompiled model `model` for `splits`."""
        raise NotImplementedError

    def compile(self, model, optimizer):
        """Compiles `model` with the task's losses and metrics."""
        raise NotImplementedError

    def serving_signature(self, model):
        """The input signature of the exported model's `serve` endpoint.

        A batch of float32 inputs of the configuration's `input_size`
        (images `(N, H, W, 3)`, clips `(N, T, H, W, 3)`), or None to let
        Keras take the model's own input shape.

        Args:
            model: Python str, the model configuration.
        """
        size = self.model_config(model).input_size
        if size is None:
            return None
        return [tf.TensorSpec((None, *size, 3), "float32")]

    def evaluate(self, model, dataset):
        """The task's standard metrics on a batched `dataset`, as a dict."""
        return {
            k: float(v)
            for k, v in model.evaluate(
                dataset, return_dict=True, verbose=0
            ).items()
        }


def shuffled(dataset, shuffle_seed, buffer_size=1024):
    """Shuffles `dataset` each epoch with a seed; no-op for None."""
    if shuffle_seed is None:
        return dataset
    size = int(dataset.cardinality())
    if size > 0:
        buffer_size = min(buffer_size, size)
    return dataset.shuffle(
        buffer_size, seed=shuffle_seed, reshuffle_each_iteration=True
    )


def set_seed(seed):
    """Seeds Python, numpy and Keras (weights) when `seed` is not None."""
    if seed is not None:
        keras.utils.set_random_seed(seed)


def augmentation_layers(seed):
    """Imports KerasCV, ready to build its random augmentation layers.

    KerasCV's augmentation layers take TensorFlow's global random
    generator when built, which TensorFlow refuses while op determinism
    is on (`TrainConfig.deterministic`) unless a generator was set; one
    seeded with `seed` is set then.

    Returns:
        The `keras_cv` module.
    """
    import keras_cv

    try:
        tf.random.get_global_generator()
    except RuntimeError:
        tf.random.set_global_generator(tf.random.Generator.from_seed(seed or 0))
    return keras_cv


def apply_bn_momentum(model, bn_momentum):
    """Checks `bn_momentum` and sets it on every BatchNormalization."""
    bn_momentum = _checks.number("bn_momentum", bn_momentum, minimum=0)
    if bn_momentum >= 1:
        raise ValueError(
            "Argument `bn_momentum` must be < 1. "
            f"Received: bn_momentum={bn_momentum!r}"
        )
    models_lib.set_bn_momentum(model, bn_momentum)
    return model


def _split_range(splits, sizes, start, end):
    """TFDS split string for examples [start, end) of concatenated splits."""
    parts, offset = [], 0
    for split, size in zip(splits, sizes):
        lo, hi = max(start - offset, 0), min(end - offset, size)
        if hi > lo:
            parts.append(
                split if (lo, hi) == (0, size) else f"{split}[{lo}:{hi}]"
            )
        offset += size
    return "+".join(parts)
