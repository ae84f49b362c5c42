"""The configuration of one training run, and its validation."""

import dataclasses
import os

import keras

import budgeted_keras as bk
from budgeted_keras import _checks
from budgeted_keras import distribute
from budgeted_keras import tasks as tasks_lib

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclasses.dataclass
class TrainConfig:
    """What one run trains, on what, for how long.

    Attributes:
        budget: Fraction of the full budget (> 0; 1.0 is the full recipe).
        full_epochs: Epochs of the full budget (100%).
        schedule: A `budgeted_keras.schedules.get` name.
        dataset: A dataset of the task (classification: "digits" or a TFDS
            image-classification name); None: the task's default.
        data_dir: TFDS data folder.
        model: A model configuration of the task (classification: a
            `budgeted_keras.models.build` name); None: the task's default.
        batch_size: Examples per batch.
        learning_rate: Base learning rate.
        optimizer: One of `OPTIMIZERS`; "sgd" uses momentum 0.9.
        weight_decay: Decoupled weight decay (Keras optimizers' argument).
        warmup_fraction: Warmup inside the budget, as a fraction of it.
        validation_size: Training examples held out for validation.
        train_subset: Use only this many training examples (None: all).
        augment: Random flip and translation of training images.
        bn_momentum: BatchNormalization moving-statistics momentum.
        bn_recalibration_batches: When training ends, set BatchNormalization
            moving statistics to the average over this many training batches
            (`budgeted_keras.batchnorm.recalibrate`); 0 disables.
        seed: Seeds weights, data order and augmentation.
        output_dir: Where `result.json`, the epoch log `log.jsonl` and the
            preemption backups (`backup/`) are written.
        verbose: `model.fit` verbosity ("auto", 0, 1, 2).
        strategy: A `budgeted_keras.distribute.STRATEGIES` name.
        tpu: TPU name or address, with strategy "tpu".
        mixed_precision: None, "float16" or "bfloat16" (Keras policies
            "mixed_float16" / "mixed_bfloat16"; schedules stay float32).
        grad_accum: Batches per applied update (gradient accumulation).
        deterministic: Enable TensorFlow op determinism (bitwise-repeatable
            runs, slower).
        export_dir: If set, a SavedModel of the trained model and a
            `budgeted_run.json` of its budget, schedule and data go here.
        task: A `budgeted_keras.tasks.names()` name: "classification",
            "segmentation", "detection" or "video".
    """

    budget: float = 0.25
    full_epochs: float = 30
    schedule: str = "linear"
    dataset: str = None
    data_dir: str = None
    model: str = None
    batch_size: int = 32
    learning_rate: float = 0.1
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.0
    validation_size: int = 0
    train_subset: int = None
    augment: bool = False
    bn_momentum: float = 0.99
    bn_recalibration_batches: int = 100
    seed: int = 0
    output_dir: str = "runs/train"
    verbose: object = "auto"
    strategy: str = "default"
    tpu: str = None
    mixed_precision: str = None
    grad_accum: int = 1
    deterministic: bool = False
    export_dir: str = None
    task: str = "classification"

    def __post_init__(self):
        # The task's defaults ("digits" and "cnn" for classification).
        if self.task in tasks_lib.names():
            task = tasks_lib.get(self.task)
            if self.dataset is None:
                self.dataset = task.default_dataset
            if self.model is None:
                self.model = task.default_model


# The run description written beside an exported SavedModel.
EXPORT_INFO = "budgeted_run.json"

MIXED_PRECISION = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def make_optimizer(name, learning_rate, weight_decay, grad_accum=1):
    """Builds the optimizer `name` around a learning rate or schedule."""
    accum = {
        "gradient_accumulation_steps": grad_accum if grad_accum > 1 else None
    }
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate,
            momentum=0.9,
            weight_decay=weight_decay or None,
            **accum,
        )
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, **accum)
    if name == "adamw":
        return keras.optimizers.AdamW(
            learning_rate, weight_decay=weight_decay, **accum
        )
    raise ValueError(
        f"Argument `optimizer` must be one of {OPTIMIZERS}. "
        f"Received: optimizer={name!r}"
    )


def validate(config):
    """Checks a configuration before any data is read or model built.

    Raises:
        ValueError: naming the first invalid field.
    """
    _checks.number("budget", config.budget, minimum=0, strict=True)
    _checks.number("full_epochs", config.full_epochs, minimum=0, strict=True)
    _checks.integer("batch_size", config.batch_size)
    _checks.number("learning_rate", config.learning_rate, minimum=0)
    _checks.number("weight_decay", config.weight_decay, minimum=0)
    _checks.number("bn_momentum", config.bn_momentum, minimum=0)
    if config.bn_momentum >= 1:
        raise ValueError(
            "Argument `bn_momentum` must be < 1. "
            f"Received: bn_momentum={config.bn_momentum!r}"
        )
    _checks.integer(
        "bn_recalibration_batches", config.bn_recalibration_batches, minimum=0
    )
    _checks.integer("validation_size", config.validation_size, minimum=0)
    if config.train_subset is not None:
        _checks.integer("train_subset", config.train_subset)
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"Argument `optimizer` must be one of {OPTIMIZERS}. "
            f"Received: optimizer={config.optimizer!r}"
        )
    task = tasks_lib.get(config.task)
    task.model_config(config.model)
    _checks.integer("grad_accum", config.grad_accum)
    if config.strategy not in distribute.STRATEGIES:
        raise ValueError(
            f"Argument `strategy` must be one of {distribute.STRATEGIES}. "
            f"Received: strategy={config.strategy!r}"
        )
    if config.strategy == "tpu" and not config.tpu:
        raise ValueError(
            "Argument `tpu` is required with strategy='tpu'. "
            f"Received: tpu={config.tpu!r}"
        )
    if config.mixed_precision not in (None, *MIXED_PRECISION):
        raise ValueError(
            f"Argument `mixed_precision` must be one of "
            f"{list(MIXED_PRECISION)} or None. "
            f"Received: mixed_precision={config.mixed_precision!r}"
        )
    if config.export_dir:
        export_dir = os.path.abspath(config.export_dir)
        if export_dir == os.path.abspath(config.output_dir):
            raise ValueError(
                "Argument `export_dir` must differ from `output_dir`. "
                f"Received: export_dir={config.export_dir!r}"
            )
        if (
            os.path.isdir(export_dir)
            and os.listdir(export_dir)
            and not os.path.exists(os.path.join(export_dir, EXPORT_INFO))
        ):
            raise ValueError(
                "Argument `export_dir` names a non-empty folder that is not "
                "an earlier export; it would be replaced. Received: "
                f"export_dir={config.export_dir!r}"
            )
    # Builds a throw-away schedule to check its name and arguments.
    bk.schedules.get(
        config.schedule,
        initial_learning_rate=config.learning_rate,
        budget=1000,
        warmup_fraction=config.warmup_fraction or None,
    )
