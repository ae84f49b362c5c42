"""The budget sweep: every method at every budget and seed, resumable.

`run_sweep` trains one independent model per (method, budget, seed), each
with its own budget (a fraction of the full recipe) and its own budget-aware
schedule, and appends one JSON line per finished run to
`<output_dir>/results.jsonl`. Runs already in that file are skipped, so an
interrupted sweep resumes where it stopped. Every run of a seed starts from
the same initial weights and sees the training data in the same order (and
with the same augmentation), whatever its method. A run whose loss becomes
non-finite is logged as an error and recorded with `"status": "diverged"`
(it counts as finished). When the grid is done it writes the report
(`experiments.report_lib`).

Any task of `budgeted_keras.tasks` can be swept (`Settings.task`): the
data, model, losses and metrics are the task's, and each result line
names the task's primary metric (`"metric"`, e.g. "mean_iou"), which the
report tabulates as `test_<metric>`.
"""

import dataclasses
import datetime
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

import budgeted_keras as bk
from budgeted_keras import batchnorm
from budgeted_keras import convergence
from experiments import baselines
from experiments import report_lib
from experiments import sweep_config
from experiments import sweep_data
from experiments import sweep_results
from experiments import train_lib

RESULTS_FILE = "results.jsonl"
@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One cell of the grid: a method at a budget with a seed."""

    method: str
    budget: float
    seed: int

    @property
    def key(self):
        return sweep_results.run_key(self.method, self.budget, self.seed)


def plan(config, data):
    """The grid of a sweep as `RunSpec`s, seed by seed, budget by budget.

    `offshelf` and `subsample` are left out at budget 1, where they are the
    `step` run by definition.

    Raises:
        ValueError: naming `budgets` when a budget is less than one update.
    """
    for fraction in config.budgets:
        try:
            data.full_budget.fraction(fraction)
        except ValueError as error:
            raise ValueError(
                f"Argument `budgets` holds {fraction:g}, less than one update "
                f"of the full budget of {data.full_budget.steps} updates "
                f"({error}). Received: budgets={list(config.budgets)}"
            ) from error
    specs = []
    for seed in range(config.seeds):
        for fraction in config.budgets:
            for method in config.methods:
                if (
                    method in baselines.SAME_AS_STEP_AT_FULL_BUDGET
                    and fraction >= 1
                ):
                    continue
                specs.append(RunSpec(method, fraction, seed))
    return specs


def _evaluate(task, model, dataset):
    return {} if dataset is None else task.evaluate(model, dataset)


@dataclasses.dataclass
class Run:
    """One run, built and compiled, before training."""

    model: keras.Model
    train: tf.data.Dataset
    steps_per_epoch: int
    train_size: int
    budget: bk.Budget
    learning_rate: object


def build_run(spec, config, data):
    """Builds the data stream, schedule and compiled model of a run.

    For a seed, every method starts from the same weights and (on the same
    examples) the same stream of batches: both depend on the seed only.
    """
    settings = config.settings
    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    examples, train_size = data.train, data.train_size
    if spec.method == "subsample":
        indices = baselines.subsample_indices(
            data.train_size, spec.budget, spec.seed
        )
        examples = sweep_data.subset(data.train, indices, data.train_size)
        train_size = len(indices)
    task = data.task
    train = task.training_stream(
        examples,
        settings.batch_size,
        model=settings.model,
        seed=spec.seed,
        augment=settings.augment,
    )
    steps_per_epoch = task.steps_per_epoch(examples, settings.batch_size)
    budget = data.full_budget.fraction(spec.budget)
    learning_rate, optimizer = baselines.learning_rate_and_optimizer(
        spec.method,
        budget=budget,
        full_budget=data.full_budget,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        optimizer=settings.optimizer,
        warmup_fraction=settings.warmup_fraction,
    )
    model = sweep_data.build_model(settings, data.splits, seed=spec.seed)
    # The task's losses and metrics (classification: cross-entropy,
    # accuracy and top-5 accuracy).
    task.compile(model, optimizer)
    return Run(
        model, train, steps_per_epoch, train_size, budget, learning_rate
    )


def run_one(spec, config, data):
    """Trains and evaluates one run of the grid; returns its result line."""
    settings = config.settings
    start = time.time()
    run = build_run(spec, config, data)
    model, train, budget = run.model, run.train, run.budget
    steps_per_epoch = run.steps_per_epoch
    callbacks = [bk.callbacks.FailOnNonFiniteLoss()]
    monitor = None
    if spec.method in config.grad_norm_methods:
        monitor = convergence.GradientNormMonitor(
            data.gradient_sample, budget, settings.grad_norm_points
        )
        callbacks.append(monitor)
    result = {
        "method": spec.method,
        "budget": spec.budget,
        "seed": spec.seed,
        "metric": data.task.primary_metric,
        "settings": settings.fingerprint(),
        "budget_steps": budget.steps,
        "full_budget_steps": data.full_budget.steps,
        "train_examples": run.train_size,
        "learning_rate_curve": baselines.learning_rate_curve(
            run.learning_rate, budget
        ),
    }
    try:
        history = bk.fit(
            model,
            train,
            budget,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=config.verbose,
        )
    except bk.callbacks.NonFiniteLossError as error:
        logging.error("Run %s diverged: %s", spec.key, error)
        result.update(status="diverged", error=str(error))
    else:
        result["status"] = "ok"
        result.update(
            {f"train_{k}": float(v[-1]) for k, v in history.history.items()}
        )
        no_recal = _evaluate(data.task, model, data.test)
        result["bn_recalibration_batches"] = 0
        if settings.bn_recalibration_batches:
            # At most one pass over the training data (the first epoch's
            # batches, augmented as in training).
            result["bn_recalibration_batches"] = batchnorm.recalibrate(
                model,
                train.take(steps_per_epoch),
                settings.bn_recalibration_batches,
            )
        for name, dataset in (("test", data.test),
                              ("validation", data.validation)):
            metrics = _evaluate(data.task, model, dataset)
            result.update({f"{name}_{k}": v for k, v in metrics.items()})
        result.update({f"test_{k}_no_recal": v for k, v in no_recal.items()})
    result["updates_done"] = int(model.optimizer.iterations.numpy())
    if monitor is not None:
        result["gradient_norm"] = monitor.measurements
        result["gradient_norm_examples"] = data.gradient_sample_size
    result["seconds"] = round(time.time() - start, 2)
    result["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"
    )
    return result


@dataclasses.dataclass
class Sweep:
    """A prepared sweep: its configuration, data and the runs left to do."""

    config: sweep_config.SweepConfig
    data: sweep_data.Data
    specs: list
    todo: list
    results_path: str


def prepare(config):
    """Validates `config`, loads the data and finds the runs left to do.

    Everything that can fail on a bad configuration fails here, before any
    training: the settings, the data, budgets of less than one update, a
    model that cannot be built, and results of other settings in
    `output_dir`.

    Raises:
        ValueError: naming the invalid setting (also
            `data.DatasetNotFoundError`).
    """
    config = sweep_config.validate(config)
    data = sweep_data.load_data(config.settings)
    specs = plan(config, data)
    sweep_data.build_model(config.settings, data.splits)
    train_lib.make_folder("output_dir", config.output_dir)
    path = os.path.join(config.output_dir, RESULTS_FILE)
    done = sweep_results.finished_runs(path, config.settings.fingerprint())
    todo = [spec for spec in specs if spec.key not in done]
    return Sweep(config, data, specs, todo, path)


def execute(sweep, run_fn=None):
    """Runs what is left of a prepared sweep, then writes its report.

    Args:
        sweep: A `Sweep` from `prepare`.
        run_fn: The function that trains one run; default `run_one`.

    Returns:
        The path of the results file.

    Raises:
        sweep_results.SweepRunningError: before any training, if another
            sweep is running in the same output folder.
    """
    run_fn = run_fn or run_one
    config, data = sweep.config, sweep.data
    with sweep_results.exclusive(config.output_dir):
        # Runs another sweep finished since `prepare` are not repeated.
        done = sweep_results.finished_runs(
            sweep.results_path, config.settings.fingerprint()
        )
        sweep.todo = [spec for spec in sweep.todo if spec.key not in done]
        _run_grid(sweep, run_fn)
    if config.report:
        report = report_lib.write_report(sweep.results_path, config.output_dir)
        logging.info("Report: %s", report)
    return sweep.results_path


def _run_grid(sweep, run_fn):
    config, data = sweep.config, sweep.data
    logging.info("Task: %s. Data: %s", data.task.name, data.description)
    logging.info("Settings: %s", config.settings.fingerprint())
    logging.info(
        "Budgets: %s of the full %s",
        ", ".join(
            f"{b:g} -> {data.full_budget.fraction(b).steps} updates"
            for b in config.budgets
        ),
        data.full_budget.description,
    )
    logging.info(
        "Grid: %d runs (%d methods x %d budgets x %d seeds, less the "
        "baselines that equal step at 100%%); %d finished, %d to run. "
        "Results: %s",
        len(sweep.specs), len(config.methods), len(config.budgets),
        config.seeds, len(sweep.specs) - len(sweep.todo), len(sweep.todo),
        sweep.results_path,
    )
    metric = data.task.primary_metric
    for i, spec in enumerate(sweep.todo, 1):
        result = run_fn(spec, config, data)
        sweep_results.append_result(sweep.results_path, result)
        logging.info(
            "[%d/%d] %s at %g (%d updates), seed %d: %s, test %s "
            "%.4f (%.4f before BN recalibration), %.1f s",
            i, len(sweep.todo), spec.method, spec.budget,
            result["budget_steps"], spec.seed, result["status"], metric,
            result.get(f"test_{metric}", np.nan),
            result.get(f"test_{metric}_no_recal", np.nan), result["seconds"],
        )


def run_sweep(config, run_fn=None):
    """`prepare` and `execute` a sweep; returns the results file's path."""
    return execute(prepare(config), run_fn)
