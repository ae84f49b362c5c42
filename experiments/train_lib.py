"""One budgeted training run: a `TrainConfig` in, `result.json` out.

`prepare` does everything that can fail on a bad configuration (validation,
data, budget, model) before any training; `train_and_evaluate` trains for
exactly the budget, resuming from the last epoch backup in
`<output_dir>/backup` if an earlier run of the same command was killed,
evaluates on the test split and writes `<output_dir>/result.json`.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

import budgeted_keras as bk
from budgeted_keras import data as data_lib
from budgeted_keras import distribute
from budgeted_keras import tasks as tasks_lib
from budgeted_keras import preemption
from experiments import config as config_lib
from experiments.config import TrainConfig
from experiments.config import validate


def write_json(path, payload):
    """Writes `payload` to `path` atomically (no half-written files)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def weights_digest(model):
    """SHA-256 of the model's weights, to compare runs bit for bit."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)))
    return digest.hexdigest()


def make_folder(name, path):
    """Creates folder `path` if needed; ValueError naming `name` if not."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"Argument `{name}` must be a folder that can be created or "
            f"written ({error.strerror}). Received: {name}={path!r}"
        ) from error


@contextlib.contextmanager
def _dtype_policy(name):
    """Sets the global Keras dtype policy inside the block only."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclasses.dataclass
class Experiment:
    """A prepared run: data, budget and compiled model, before training."""

    config: TrainConfig
    splits: data_lib.Splits
    steps_per_epoch: int
    full_budget: bk.Budget
    budget: bk.Budget
    schedule: object
    model: object
    strategy: object


def _run_identity(config):
    """What a backup must match to be resumed: the run's configuration."""
    return {
        k: v
        for k, v in dataclasses.asdict(config).items()
        if k not in ("verbose", "output_dir", "export_dir")
    }


def prepare(config):
    """Validates `config`, loads the data, resolves the budget, builds model.

    Everything that can fail on a bad configuration fails here, before any
    training. The model is built and compiled inside the configured strategy's
    scope and under the configured dtype policy.

    Raises:
        ValueError: naming the invalid setting (also
            `data.DatasetNotFoundError`).
    """
    validate(config)
    make_folder("output_dir", config.output_dir)
    try:
        preemption.check(
            os.path.join(config.output_dir, "backup"), _run_identity(config)
        )
    except ValueError as error:
        raise ValueError(
            str(error).replace("`directory`", "`output_dir`", 1)
        ) from None
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    strategy = distribute.get_strategy(config.strategy, tpu=config.tpu)
    task = tasks_lib.get(config.task)
    splits = task.load(
        config.dataset,
        data_dir=config.data_dir,
        validation_size=config.validation_size,
        train_subset=config.train_subset,
    )
    steps_per_epoch = task.steps_per_epoch(splits.train, config.batch_size)
    try:
        full = bk.Budget(
            epochs=config.full_epochs,
            steps_per_epoch=steps_per_epoch,
            gradient_accumulation_steps=config.grad_accum,
        )
    except ValueError as error:
        raise ValueError(
            f"Argument `full_epochs` must give at least one update; "
            f"{config.full_epochs:g} epoch(s) of {steps_per_epoch} batches "
            f"do not. Received: full_epochs={config.full_epochs!r}"
        ) from error
    try:
        budget = full.fraction(config.budget)
    except ValueError as error:
        raise ValueError(
            f"Argument `budget` ({config.budget:g} of the full budget of "
            f"{full.steps} updates) must be at least one update; raise it "
            f"or `full_epochs`. Received: budget={config.budget!r}"
        ) from error
    schedule = bk.schedules.get(
        config.schedule,
        initial_learning_rate=config.learning_rate,
        budget=budget,
        warmup_fraction=config.warmup_fraction or None,
    )
    logging.info("Data: %s", splits.description)
    logging.info("Config: %s", dataclasses.asdict(config))
    logging.info(
        "Budget: %s of the full %s -> %d updates = %d batches, %d epoch(s) "
        "of %d batches; %d replica(s)",
        f"{config.budget:g}",
        full.description,
        budget.steps,
        budget.batches,
        budget.epochs_for(steps_per_epoch),
        steps_per_epoch,
        strategy.num_replicas_in_sync,
    )
    policy = config_lib.MIXED_PRECISION.get(config.mixed_precision, "float32")
    with strategy.scope(), _dtype_policy(policy):
        model = task.build_model(
            config.model,
            splits,
            bn_momentum=config.bn_momentum,
            seed=config.seed,
        )
        # The task's losses and metrics (classification: cross-entropy,
        # accuracy and top-5 accuracy).
        task.compile(
            model,
            config_lib.make_optimizer(
                config.optimizer,
                schedule,
                config.weight_decay,
                config.grad_accum,
            ),
        )
    return Experiment(
        config,
        splits,
        steps_per_epoch,
        full,
        budget,
        schedule,
        model,
        strategy,
    )


def export(experiment, export_dir, run_info):
    """Writes a SavedModel of the trained model and `budgeted_run.json`.

    The SavedModel (TF Serving and TF Hub format) has a `serve` endpoint
    taking a float32 batch of the task's inputs (`Task.serving_signature`:
    images, or clips for video; `{"images": batch}` for RetinaNet) and
    returning the model's raw outputs (logits; per-pixel logits; box and
    class predictions before decoding); reload it with
    `keras.layers.TFSMLayer(export_dir, call_endpoint="serve")`.
    """
    if os.path.exists(export_dir):
        shutil.rmtree(export_dir)
    config = experiment.config
    signature = tasks_lib.get(config.task).serving_signature(config.model)
    kwargs = {} if signature is None else {"input_signature": signature}
    experiment.model.export(
        export_dir, format="tf_saved_model", verbose=False, **kwargs
    )
    write_json(os.path.join(export_dir, config_lib.EXPORT_INFO), run_info)


def train_and_evaluate(config_or_experiment):
    """Trains under the configured budget, evaluates, writes `result.json`.

    Args:
        config_or_experiment: A `TrainConfig`, or the `Experiment` that
            `prepare` returned for it.

    Returns:
        The result as a dict (also written to `<output_dir>/result.json` by
        the chief process).
    """
    start = time.time()
    experiment = config_or_experiment
    if isinstance(experiment, TrainConfig):
        experiment = prepare(experiment)
    config, model = experiment.config, experiment.model
    budget, schedule = experiment.budget, experiment.schedule
    run_task = tasks_lib.get(config.task)
    chief = distribute.is_chief(experiment.strategy)
    output_dir = config.output_dir
    if not chief:
        # Other workers of a multi-worker run keep their own epoch log; the
        # chief alone writes results and backups, which every worker
        # restores from (their weights are replicas of the chief's).
        task = experiment.strategy.cluster_resolver.task_id
        output_dir = os.path.join(output_dir, f"worker-{task}")
    os.makedirs(output_dir, exist_ok=True)
    backup_dir = os.path.join(config.output_dir, "backup")
    log_path = os.path.join(output_dir, "log.jsonl")

    distribute.prepare_model(
        model,
        experiment.strategy,
        next(
            iter(
                run_task.batches(
                    experiment.splits.train,
                    config.batch_size,
                    model=config.model,
                )
            )
        ),
    )
    run_identity = _run_identity(config)
    initial_epoch = preemption.restore(model, backup_dir, run_identity)
    preemption.EpochLog.truncate(log_path, initial_epoch)
    if initial_epoch:
        logging.info(
            "Resuming from the backup of epoch %d (%d updates applied).",
            initial_epoch,
            int(model.optimizer.iterations.numpy()),
        )
    train = run_task.training_stream(
        experiment.splits.train,
        config.batch_size,
        model=config.model,
        seed=config.seed,
        augment=config.augment,
        start_epoch=initial_epoch,
    )
    validation = (
        run_task.batches(
            experiment.splits.validation, config.batch_size, model=config.model
        )
        if experiment.splits.validation is not None
        else None
    )
    history = bk.fit(
        model,
        train,
        budget,
        steps_per_epoch=experiment.steps_per_epoch,
        initial_epoch=initial_epoch,
        validation_data=validation,
        callbacks=[
            bk.callbacks.FailOnNonFiniteLoss(),
            preemption.EpochLog(log_path),
        ]
        + ([preemption.EpochBackup(backup_dir, run_identity)] if chief else [])
        + (
            [
                bk.batchnorm.BatchNormRecalibration(
                    # A fresh stream from epoch 0: the same batches whether or
                    # not this run resumed from a backup.
                    run_task.training_stream(
                        experiment.splits.train,
                        config.batch_size,
                        model=config.model,
                        seed=config.seed,
                        augment=config.augment,
                    ),
                    config.bn_recalibration_batches,
                )
            ]
            if config.bn_recalibration_batches
            else []
        ),
        verbose=config.verbose,
    )
    # The task's standard metrics (classification: loss, accuracy, top-5).
    test = run_task.evaluate(
        model,
        run_task.batches(
            experiment.splits.test, config.batch_size, model=config.model
        ),
    )
    with open(log_path) as f:
        epochs_logged = [json.loads(line) for line in f if line.strip()]
    result = {
        "config": dataclasses.asdict(config),
        "data": experiment.splits.description,
        "budget_steps": budget.steps,
        "budget_batches": budget.batches,
        "full_budget_steps": experiment.full_budget.steps,
        "updates_done": int(model.optimizer.iterations.numpy()),
        "replicas": experiment.strategy.num_replicas_in_sync,
        "resumed_from_epoch": initial_epoch,
        "schedule": keras.saving.serialize_keras_object(schedule),
        "history": {
            key: [row[key] for row in epochs_logged if key in row]
            for key in history.history
        },
        "weights_sha256": weights_digest(model),
        "seconds": round(time.time() - start, 2),
    }
    result.update({f"test_{k}": float(v) for k, v in test.items()})
    if chief:
        write_json(os.path.join(output_dir, "result.json"), result)
        if config.export_dir:
            export(
                experiment,
                config.export_dir,
                {
                    "budget": budget.get_config(),
                    "full_budget": experiment.full_budget.get_config(),
                    "schedule": result["schedule"],
                    "data": experiment.splits.description,
                    "config": result["config"],
                    "input_shape": (
                        list(experiment.splits.input_shape)
                        if experiment.splits.input_shape
                        else None
                    ),
                    "num_classes": experiment.splits.num_classes,
                    "test_accuracy": result.get("test_accuracy"),
                },
            )
    logging.info(
        "Done: %d/%d updates, test %s %.4f, %.1f s",
        result["updates_done"],
        budget.steps,
        run_task.primary_metric,
        result.get(f"test_{run_task.primary_metric}", float("nan")),
        result["seconds"],
    )
    return result
