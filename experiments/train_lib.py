"""One budgeted training run: configuration in, `result.json` out."""

import dataclasses
import json
import os
import time

import keras
from absl import logging

import budgeted_keras as bk
from budgeted_keras import _checks
from budgeted_keras import data as data_lib
from budgeted_keras import models as models_lib

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclasses.dataclass
class TrainConfig:
    """What one run trains, on what, for how long.

    Attributes:
        budget: Fraction of the full budget (> 0; 1.0 is the full recipe).
        full_epochs: Epochs of the full budget (100%).
        schedule: A `budgeted_keras.schedules.get` name.
        dataset: "digits" or a TFDS image-classification name.
        data_dir: TFDS data folder.
        model: A `budgeted_keras.models.build` name.
        batch_size: Examples per batch.
        learning_rate: Base learning rate.
        optimizer: One of `OPTIMIZERS`; "sgd" uses momentum 0.9.
        weight_decay: Decoupled weight decay (Keras optimizers' argument).
        warmup_fraction: Warmup inside the budget, as a fraction of it.
        validation_size: Training examples held out for validation.
        train_subset: Use only this many training examples (None: all).
        augment: Random flip and translation of training images.
        bn_momentum: BatchNormalization moving-statistics momentum.
        seed: Seeds weights, data order and augmentation.
        output_dir: Where `result.json` is written.
        verbose: `model.fit` verbosity ("auto", 0, 1, 2).
    """

    budget: float = 0.25
    full_epochs: float = 30
    schedule: str = "linear"
    dataset: str = data_lib.DIGITS
    data_dir: str = None
    model: str = "cnn"
    batch_size: int = 32
    learning_rate: float = 0.1
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.0
    validation_size: int = 0
    train_subset: int = None
    augment: bool = False
    bn_momentum: float = 0.99
    seed: int = 0
    output_dir: str = "runs/train"
    verbose: object = "auto"


def make_optimizer(name, learning_rate, weight_decay):
    """Builds the optimizer `name` around a learning rate or schedule."""
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate, momentum=0.9, weight_decay=weight_decay or None
        )
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    raise ValueError(
        f"Argument `optimizer` must be one of {OPTIMIZERS}. "
        f"Received: optimizer={name!r}"
    )


def write_json(path, payload):
    """Writes `payload` to `path` atomically (no half-written files)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def validate(config):
    """Checks a configuration before any data is read or model built.

    Raises:
        ValueError: naming the first invalid field.
    """
    _checks.number("budget", config.budget, minimum=0, strict=True)
    _checks.number("full_epochs", config.full_epochs, minimum=0, strict=True)
    _checks.integer("batch_size", config.batch_size)
    _checks.number("weight_decay", config.weight_decay, minimum=0)
    _checks.number("bn_momentum", config.bn_momentum, minimum=0)
    if config.bn_momentum >= 1:
        raise ValueError(
            "Argument `bn_momentum` must be < 1. "
            f"Received: bn_momentum={config.bn_momentum!r}"
        )
    _checks.integer("validation_size", config.validation_size, minimum=0)
    if config.train_subset is not None:
        _checks.integer("train_subset", config.train_subset)
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"Argument `optimizer` must be one of {OPTIMIZERS}. "
            f"Received: optimizer={config.optimizer!r}"
        )
    if config.model not in models_lib.names():
        raise ValueError(
            f"Argument `model` must be one of {models_lib.names()}. "
            f"Received: model={config.model!r}"
        )
    # Builds a throw-away schedule to check its name and arguments.
    bk.schedules.get(
        config.schedule,
        initial_learning_rate=config.learning_rate,
        budget=1000,
        warmup_fraction=config.warmup_fraction or None,
    )


@dataclasses.dataclass
class Experiment:
    """A prepared run: data, budget and compiled model, before training."""

    config: TrainConfig
    splits: data_lib.Splits
    train: object
    full_budget: bk.Budget
    budget: bk.Budget
    schedule: object
    model: object


def prepare(config):
    """Validates `config`, loads the data, resolves the budget, builds model.

    Everything that can fail on a bad configuration fails here, before any
    training.

    Raises:
        ValueError: naming the invalid setting (also
            `data.DatasetNotFoundError`).
    """
    validate(config)
    keras.utils.set_random_seed(config.seed)
    splits = data_lib.load(
        config.dataset,
        data_dir=config.data_dir,
        validation_size=config.validation_size,
        train_subset=config.train_subset,
    )
    train = data_lib.batches(
        splits.train,
        config.batch_size,
        shuffle_seed=config.seed,
        augment=config.augment,
    )
    steps_per_epoch = int(train.cardinality())
    full = bk.Budget(epochs=config.full_epochs, steps_per_epoch=steps_per_epoch)
    budget = full.fraction(config.budget)
    schedule = bk.schedules.get(
        config.schedule,
        initial_learning_rate=config.learning_rate,
        budget=budget,
        warmup_fraction=config.warmup_fraction or None,
    )
    logging.info("Data: %s", splits.description)
    logging.info("Config: %s", dataclasses.asdict(config))
    logging.info(
        "Budget: %s of the full %s -> %d updates, %d epoch(s) of %d batches",
        f"{config.budget:g}", full.description, budget.steps,
        budget.epochs_for(steps_per_epoch), steps_per_epoch,
    )
    model = models_lib.build(
        config.model,
        splits.input_shape,
        splits.num_classes,
        bn_momentum=config.bn_momentum,
        seed=config.seed,
    )
    model.compile(
        optimizer=make_optimizer(
            config.optimizer, schedule, config.weight_decay
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return Experiment(config, splits, train, full, budget, schedule, model)


def train_and_evaluate(config_or_experiment):
    """Trains under the configured budget, evaluates, writes `result.json`.

    Args:
        config_or_experiment: A `TrainConfig`, or the `Experiment` that
            `prepare` returned for it.

    Returns:
        The result as a dict (also written to `<output_dir>/result.json`).
    """
    start = time.time()
    experiment = config_or_experiment
    if isinstance(experiment, TrainConfig):
        experiment = prepare(experiment)
    config, splits, model = (
        experiment.config, experiment.splits, experiment.model
    )
    budget, full = experiment.budget, experiment.full_budget
    schedule = experiment.schedule
    validation = (
        data_lib.batches(splits.validation, config.batch_size)
        if splits.validation is not None
        else None
    )
    history = bk.fit(
        model,
        experiment.train,
        budget,
        validation_data=validation,
        callbacks=[bk.callbacks.FailOnNonFiniteLoss()],
        verbose=config.verbose,
    )
    test = model.evaluate(
        data_lib.batches(splits.test, config.batch_size),
        return_dict=True,
        verbose=0,
    )
    result = {
        "config": dataclasses.asdict(config),
        "data": splits.description,
        "budget_steps": budget.steps,
        "full_budget_steps": full.steps,
        "updates_done": int(model.optimizer.iterations.numpy()),
        "schedule": keras.saving.serialize_keras_object(schedule),
        "history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
        "seconds": round(time.time() - start, 2),
    }
    result.update({f"test_{k}": float(v) for k, v in test.items()})
    os.makedirs(config.output_dir, exist_ok=True)
    write_json(os.path.join(config.output_dir, "result.json"), result)
    logging.info(
        "Done: %d/%d updates, test accuracy %.4f, %.1f s",
        result["updates_done"], budget.steps,
        result.get("test_accuracy", float("nan")), result["seconds"],
    )
    return result
