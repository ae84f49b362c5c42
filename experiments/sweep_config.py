"""What a budget sweep runs: the grid, the per-run settings, the presets.

Two presets size the runs:

- `cpu` (default): a small CNN (three conv/BatchNorm blocks of 16, 32 and
  64 filters) on 10,000 CIFAR-10 training images (5,000 more held out for
  validation, the test split for the final number), batch 128, SGD with
  momentum 0.9, lr 0.1, weight decay 5e-4, flips and translations, and a
  full budget of 10 epochs (790 updates); Keras' BatchNorm momentum with
  recalibration on one epoch of training batches; the gradient norm of the
  linear and constant runs on the whole training set. Sized for the default
  grid to take about an hour on two idle CPU cores (84 minutes measured on a
  shared machine; see docs/results.md).
- `full`: the paper's CIFAR recipe: the CIFAR ResNet-18
  (`cifar_resnet18`: 3x3 stem, no max-pool, KerasCV basic blocks), all
  45,000 training images after a 5,000-image validation split, batch 128,
  lr 0.1, weight decay 5e-4, 200 epochs; it needs an accelerator.

On the offline `digits` data both presets hold out 237 of the 1,437 training
images for validation and use the other 1,200.

The other tasks (`--task=segmentation|detection|video`, see
`budgeted_keras.tasks`) have presets of their own (`task_preset`):

- `cpu`: the task's small model configuration on the first 500 training
  images (clips), 100 more held out, batch 8, a full budget of 10 epochs
  (630 updates), with the optimizer, learning rate and weight decay of the
  task's standard recipe.
- `full`: the task's standard configuration and its whole standard recipe
  (`ModelConfig.recipe`; its full budget in epochs is
  `ModelConfig.full_epochs`) on all the training data, 500 images held
  out.
"""

import dataclasses
import math

from budgeted_keras import _checks
from budgeted_keras import data as data_lib
from budgeted_keras import schedules
from budgeted_keras import tasks as tasks_lib
from experiments import baselines
from experiments import config as config_lib
from experiments import sweep_results

DEFAULT_BUDGETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)
# The baselines the paper's claims are checked against; the fast-convergence
# ones (adam, adamw, onecycle, sgdr) add about 25 minutes to the CPU preset.
DEFAULT_BASELINES = ("offshelf", "subsample")
DEFAULT_GRAD_NORM_METHODS = ("linear", "constant")
DEFAULT_GRAD_NORM_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)

PRESETS = ("cpu", "full")
# Validation examples held out from the training split, per dataset.
VALIDATION_SIZES = {data_lib.DIGITS: 237}
TFDS_VALIDATION_SIZE = 5000  # The paper's 45k/5k CIFAR split.
CLASSIFICATION = sweep_results.CLASSIFICATION
# The CPU preset of classification (its cost is sized in the docstring).
CLASSIFICATION_CPU_PRESET = dict(
    model="cnn",
    model_width=16,
    full_epochs=10.0,
    batch_size=128,
    learning_rate=0.1,
    weight_decay=5e-4,
    augment=True,
    train_subset=10_000,
    grad_norm_examples=0,
)
# The CPU preset of the other tasks; the optimizer, learning rate and
# weight decay come from the task's standard recipe.
TASK_CPU_PRESET = dict(
    model_width=None,
    full_epochs=10.0,
    batch_size=8,
    augment=True,
    train_subset=500,
    validation_size=100,
    grad_norm_examples=64,
)
# The full preset: the standard configuration's recipe (`ModelConfig`) on
# all the training data, plus these settings.
FULL_PRESET = dict(
    model_width=None,
    augment=True,
    train_subset=None,
    validation_size=500,
    grad_norm_examples=512,
    # At least one epoch (CIFAR: 352 batches of 128; Cityscapes: 372 of 8);
    # the sweep uses at most one.
    bn_recalibration_batches=400,
)


def task_preset(task, preset):
    """The settings of `preset` for `task`, as a dict of `Settings` fields.

    Args:
        task: Python str, a `budgeted_keras.tasks.names()` name.
        preset: Python str, "cpu" or "full".

    Raises:
        ValueError: for an unknown task or preset.
    """
    if preset not in PRESETS:
        raise ValueError(
            f"Argument `preset` must be one of {list(PRESETS)}. "
            f"Received: preset={preset!r}"
        )
    runner = tasks_lib.get(task)
    standard = runner.model_config(runner.standard_model)
    recipe = standard.recipe.settings()
    if preset == "full":
        values = dict(
            FULL_PRESET,
            model=runner.standard_model,
            full_epochs=float(standard.full_epochs),
            **recipe,
        )
        if task == CLASSIFICATION:
            # The paper's measure: the gradient on the whole training set.
            values["grad_norm_examples"] = 0
        return values
    if task == CLASSIFICATION:
        return dict(CLASSIFICATION_CPU_PRESET)
    del recipe["batch_size"]
    return dict(TASK_CPU_PRESET, model=runner.default_model, **recipe)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How every run of a sweep trains; one results file holds one `Settings`.

    Attributes:
        preset: Python str, the `PRESETS` name the settings started from.
        task: Python str, a `budgeted_keras.tasks.names()` name.
        dataset, data_dir, model, full_epochs, batch_size, learning_rate,
        optimizer, weight_decay, warmup_fraction, validation_size,
        train_subset, augment, bn_momentum: As in `config.TrainConfig`.
        model_width: Python int or None. `models.build`'s `width`
            (classification only).
        bn_recalibration_batches: Python int >= 0. Training batches whose
            statistics replace the BatchNorm moving statistics after
            training (`budgeted_keras.batchnorm.recalibrate`); 0 disables.
        grad_norm_examples: Python int >= 0. Size of the fixed sample of the
            training set (its first examples, unaugmented) on which the
            gradient norm is measured; 0 means the whole training set.
        grad_norm_points: Tuple of progress fractions where it is measured.
    """

    preset: str = "cpu"
    task: str = CLASSIFICATION
    dataset: str = data_lib.DIGITS
    data_dir: str = None
    model: str = "cnn"
    model_width: int = None
    full_epochs: float = 10.0
    batch_size: int = 128
    learning_rate: float = 0.1
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.0
    validation_size: int = 0
    train_subset: int = None
    augment: bool = False
    bn_momentum: float = 0.99
    bn_recalibration_batches: int = 100
    grad_norm_examples: int = 0
    grad_norm_points: tuple = DEFAULT_GRAD_NORM_POINTS

    def fingerprint(self):
        """The settings that make results comparable, as a JSON-able dict."""
        values = dataclasses.asdict(self)
        del values["data_dir"]
        values["grad_norm_points"] = list(self.grad_norm_points)
        return values


def settings_for(preset, dataset=None, task=CLASSIFICATION, **overrides):
    """The `Settings` of a preset on a dataset, with some values overridden.

    Args:
        preset: Python str, a `PRESETS` name.
        dataset: Python str, a dataset of the task (classification:
            "digits" or a TFDS name); None for the task's default.
        task: Python str, a `budgeted_keras.tasks.names()` name.
        **overrides: `Settings` fields to set instead of the preset's.

    Raises:
        ValueError: for an unknown preset, task or field.
    """
    values = task_preset(task, preset)
    if dataset is None:
        dataset = tasks_lib.get(task).default_dataset
    if task == CLASSIFICATION:
        values["validation_size"] = VALIDATION_SIZES.get(
            dataset, TFDS_VALIDATION_SIZE
        )
        if dataset == data_lib.DIGITS:
            values["train_subset"] = None
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"Argument `overrides` names unknown settings {unknown}. "
            f"Received: overrides={overrides!r}"
        )
    values.update(overrides)
    return Settings(preset=preset, task=task, dataset=dataset, **values)


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A grid of runs and where its results go.

    Attributes:
        settings: `Settings` shared by every run.
        output_dir: Python str. Holds `results.jsonl`, the report, figures.
        budgets: Tuple of fractions of the full budget, in (0, 1].
        schedules: Tuple of budget-aware schedule names.
        baselines: Tuple of `baselines.BASELINES` names.
        seeds: Python int >= 1. Seeds 0, ..., seeds - 1.
        grad_norm_methods: Methods whose runs measure the gradient norm.
        report: Python bool. Write the report when the grid is done.
        verbose: `model.fit` verbosity.
    """

    settings: Settings
    output_dir: str
    budgets: tuple = DEFAULT_BUDGETS
    schedules: tuple = tuple(schedules.names())
    baselines: tuple = DEFAULT_BASELINES
    seeds: int = 3
    grad_norm_methods: tuple = DEFAULT_GRAD_NORM_METHODS
    report: bool = True
    verbose: object = 0

    @property
    def methods(self):
        return tuple(self.schedules) + tuple(self.baselines)


def _choices(name, values, allowed, canonical=lambda v: v, aliases=()):
    given = list(values)
    if not given:
        raise ValueError(
            f"Argument `{name}` must not be empty. Received: {name}={given!r}"
        )
    names = []
    for value in given:
        try:
            value = canonical(value)
        except ValueError:
            pass
        if value not in allowed:
            known = ", ".join(list(allowed) + list(aliases))
            raise ValueError(
                f"Argument `{name}` must name only {known}. "
                f"Received: {name}={given!r}"
            )
        names.append(value)
    if len(set(names)) != len(names):
        raise ValueError(
            f"Argument `{name}` must not repeat a value (aliases included). "
            f"Received: {name}={given!r}"
        )
    return tuple(names)


def validate(config):
    """Checks a `SweepConfig`; returns it with canonical schedule names.

    Methods in `grad_norm_methods` that are not in the grid are allowed (they
    are not run); unknown names are not.

    Raises:
        ValueError: naming the first invalid argument.
    """
    for fraction in config.budgets or [None]:
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float))
            or not math.isfinite(fraction)
            or not 0 < fraction <= 1
        ):
            raise ValueError(
                "Argument `budgets` must hold fractions of the full budget in "
                f"(0, 1]. Received: budgets={list(config.budgets)!r}"
            )
    if len(set(config.budgets)) != len(config.budgets):
        raise ValueError(
            "Argument `budgets` must not repeat a value. "
            f"Received: budgets={list(config.budgets)!r}"
        )
    names = schedules.names()
    _choices(
        "schedules",
        config.schedules,
        names,
        schedules.canonical_name,
        aliases=schedules.aliases(),
    )
    if config.baselines:
        _choices("baselines", config.baselines, baselines.BASELINES)
    _checks.integer("seeds", config.seeds)
    s = config.settings
    _checks.number("full_epochs", s.full_epochs, minimum=0, strict=True)
    _checks.integer("batch_size", s.batch_size)
    _checks.number("learning_rate", s.learning_rate, minimum=0)
    _checks.number("weight_decay", s.weight_decay, minimum=0)
    _checks.number("warmup_fraction", s.warmup_fraction, minimum=0)
    if s.warmup_fraction >= 1:
        raise ValueError(
            "Argument `warmup_fraction` must be < 1. "
            f"Received: warmup_fraction={s.warmup_fraction!r}"
        )
    _checks.number("bn_momentum", s.bn_momentum, minimum=0)
    if s.bn_momentum >= 1:
        raise ValueError(
            "Argument `bn_momentum` must be < 1. "
            f"Received: bn_momentum={s.bn_momentum!r}"
        )
    _checks.integer("validation_size", s.validation_size, minimum=0)
    if s.train_subset is not None:
        _checks.integer("train_subset", s.train_subset)
    if s.model_width is not None:
        _checks.integer("model_width", s.model_width)
    _checks.integer(
        "bn_recalibration_batches", s.bn_recalibration_batches, minimum=0
    )
    _checks.integer("grad_norm_examples", s.grad_norm_examples, minimum=0)
    for point in s.grad_norm_points or [None]:
        if not isinstance(point, (int, float)) or not 0 <= point <= 1:
            raise ValueError(
                "Argument `grad_norm_points` must hold fractions in [0, 1]. "
                f"Received: grad_norm_points={list(s.grad_norm_points)!r}"
            )
    if s.optimizer not in config_lib.OPTIMIZERS:
        raise ValueError(
            f"Argument `optimizer` must be one of {config_lib.OPTIMIZERS}. "
            f"Received: optimizer={s.optimizer!r}"
        )
    task = tasks_lib.get(s.task)
    task.model_config(s.model)
    task.dataset_spec(s.dataset)
    if s.model_width is not None and s.task != CLASSIFICATION:
        raise ValueError(
            "Argument `model_width` applies to classification models only. "
            f"Received: model_width={s.model_width!r} with task={s.task!r}"
        )
    if not isinstance(config.output_dir, str) or not config.output_dir:
        raise ValueError(
            "Argument `output_dir` must be a folder path. "
            f"Received: output_dir={config.output_dir!r}"
        )
    grad_norm_methods = []
    for method in config.grad_norm_methods:
        if method not in baselines.BASELINES:
            try:
                method = schedules.canonical_name(method)
            except ValueError:
                raise ValueError(
                    "Argument `grad_norm_methods` must name schedules or "
                    f"baselines. Received: grad_norm_methods="
                    f"{list(config.grad_norm_methods)!r}"
                ) from None
        grad_norm_methods.append(method)
    return dataclasses.replace(
        config,
        schedules=tuple(schedules.canonical_name(n) for n in config.schedules),
        grad_norm_methods=tuple(grad_norm_methods),
    )
