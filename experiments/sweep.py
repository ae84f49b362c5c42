r"""Runs the budgeted-training grid: budgets x methods x seeds, resumable.

Every run is an independent training at its own budget (a fraction of the
full budget) with its own budget-aware schedule, or one of the baselines
(`experiments.baselines`). Each finished run is appended as one JSON line to
`<output_dir>/results.jsonl`; re-running the same command skips the runs
already there, so a killed sweep resumes. When the grid is done the report
(`report.md`, `figures/*.png`) is written to `<output_dir>`. From the
repository root:

    # Offline smoke run on scikit-learn's digits:
    python -m experiments.sweep --budgets=0.1,1 --schedules=linear,step \
        --baselines= --seeds=1 --output_dir=runs/sweep_digits
    # The default grid on CIFAR-10 with the 2-core CPU preset (1 to 1.5 h):
    python -m experiments.sweep --dataset=cifar10 \
        --data_dir=../shared/data/tfds --output_dir=runs/sweep_cifar10
    # Add the fast-convergence baselines (Adam, AdamW, one-cycle, SGDR):
    python -m experiments.sweep --dataset=cifar10 \
        --data_dir=../shared/data/tfds --output_dir=runs/sweep_cifar10 \
        --baselines=all
    # The paper's full CIFAR recipe (CIFAR ResNet-18, 200 epochs):
    python -m experiments.sweep --preset=full --dataset=cifar10 \
        --data_dir=../shared/data/tfds --output_dir=runs/sweep_full
    # Another task, with its standard recipe (DeepLabV3+ on Cityscapes,
    # 215 epochs at batch 8; Cityscapes is a manual download):
    python -m experiments.sweep --task=segmentation --preset=full \
        --data_dir=$TFDS_DATA_DIR --output_dir=runs/sweep_cityscapes

`--task` picks what is trained (classification by default; also
segmentation, detection, video: `budgeted_keras.tasks`) and `--dataset`
its data (by default the task's: digits, cityscapes, coco/2017, ucf101).
The run settings come from `--preset` and the task (see
`experiments.sweep_config`);
the training flags shared with `experiments.train` (`--model`,
`--full_epochs`, `--batch_size`, `--learning_rate`, `--weight_decay`,
`--train_subset`, `--validation_size`, `--augment`, `--bn_momentum`,
`--bn_recalibration_batches`, ...) override the preset when given;
`--output_dir` defaults to `runs/sweep`. A run whose loss becomes non-finite
is logged as an error and recorded as diverged, and the sweep goes on.
"""

from absl import app
from absl import flags

from budgeted_keras import schedules
from experiments import baselines
from experiments import sweep_config
from experiments import sweep_lib
from experiments import sweep_results
from experiments import train_flags

FLAGS = flags.FLAGS
# `--help` lists the run flags defined in `train_flags` too.
flags.adopt_module_key_flags(train_flags)

PRESET = flags.DEFINE_enum(
    "preset", "cpu", list(sweep_config.PRESETS),
    "Run settings: 'cpu' (classification: small CNN, 10k CIFAR images, "
    "10-epoch full budget; other tasks: their small model on 500 images) "
    "or 'full' (classification: CIFAR ResNet-18, 200 epochs; other tasks: "
    "their standard recipe).",
)
BUDGETS = flags.DEFINE_list(
    "budgets", [f"{b:g}" for b in sweep_config.DEFAULT_BUDGETS],
    "Budgets as fractions of the full budget, in (0, 1].",
)
SCHEDULES = flags.DEFINE_list(
    "schedules", ["all"],
    "Budget-aware schedules (names or aliases of budgeted_keras.schedules),"
    " or 'all'.",
)
BASELINES = flags.DEFINE_list(
    "baselines", list(sweep_config.DEFAULT_BASELINES),
    f"Baselines to run too, of {list(baselines.BASELINES)}, or 'all'; "
    "empty for none.",
)
SEEDS = flags.DEFINE_integer(
    "seeds", 3, "Number of seeds (0, 1, ...) per cell.", lower_bound=1
)
MODEL_WIDTH = flags.DEFINE_integer(
    "model_width", None, "Width of the 'cnn'/'mlp' model (default: preset).",
    lower_bound=1,
)
GRAD_NORM_METHODS = flags.DEFINE_list(
    "grad_norm_methods", list(sweep_config.DEFAULT_GRAD_NORM_METHODS),
    "Methods whose runs measure the full-data gradient norm; empty for none.",
)
GRAD_NORM_POINTS = flags.DEFINE_list(
    "grad_norm_points",
    [f"{p:g}" for p in sweep_config.DEFAULT_GRAD_NORM_POINTS],
    "Progress fractions at which the gradient norm is measured.",
)
GRAD_NORM_EXAMPLES = flags.DEFINE_integer(
    "grad_norm_examples", None,
    "Fixed training sample for the gradient norm; 0 is the whole training "
    "set (default: preset).", lower_bound=0,
)
REPORT = flags.DEFINE_bool(
    "report", True, "Write report.md and figures when the grid is done."
)

# Training flags the sweep takes over from the preset when given.
_OVERRIDES = {
    "model": train_flags.MODEL,
    "full_epochs": train_flags.FULL_EPOCHS,
    "batch_size": train_flags.BATCH_SIZE,
    "learning_rate": train_flags.LEARNING_RATE,
    "optimizer": train_flags.OPTIMIZER,
    "weight_decay": train_flags.WEIGHT_DECAY,
    "warmup_fraction": train_flags.WARMUP_FRACTION,
    "validation_size": train_flags.VALIDATION_SIZE,
    "train_subset": train_flags.TRAIN_SUBSET,
    "augment": train_flags.AUGMENT,
    "bn_momentum": train_flags.BN_MOMENTUM,
    "bn_recalibration_batches": train_flags.BN_RECALIBRATION_BATCHES,
    "model_width": MODEL_WIDTH,
    "grad_norm_examples": GRAD_NORM_EXAMPLES,
}
# Flags of `experiments.train` that a sweep sets itself or does not support.
_NOT_FOR_SWEEPS = {
    "budget": "--budgets",
    "schedule": "--schedules",
    "seed": "--seeds",
    "strategy": None,
    "tpu": None,
    "mixed_precision": None,
    "grad_accum": None,
    "deterministic": None,
    "export_dir": None,
}


def _floats(name, values):
    try:
        return tuple(float(v) for v in values)
    except ValueError as error:
        raise app.UsageError(
            f"Flag --{name} must be a comma-separated list of numbers. "
            f"Received: {name}={','.join(values)!r}"
        ) from error


def _given(name):
    """Whether flag `name` was set (on the command line or by a test)."""
    return name in FLAGS and not FLAGS[name].using_default_value


def _all(values, every):
    return tuple(every) if values == ["all"] else tuple(values)


def config_from_flags():
    """The `SweepConfig` the command line asks for.

    Raises:
        app.UsageError: for a flag a sweep does not take, or a bad value.
    """
    for name, instead in _NOT_FOR_SWEEPS.items():
        if _given(name):
            hint = f"; use {instead}" if instead else ""
            raise app.UsageError(
                f"Flag --{name} is not supported by the sweep{hint}."
            )
    overrides = {
        name: holder.value
        for name, holder in _OVERRIDES.items()
        if _given(holder.name)
    }
    overrides["grad_norm_points"] = _floats(
        "grad_norm_points", GRAD_NORM_POINTS.value
    )
    overrides["data_dir"] = train_flags.DATA_DIR.value
    task = train_flags.TASK.value
    dataset = train_flags.DATASET
    try:
        settings = sweep_config.settings_for(
            PRESET.value,
            # Left at its default, --dataset is the task's default dataset.
            dataset.value if _given(dataset.name) else None,
            task=task,
            **overrides,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    output_dir = train_flags.OUTPUT_DIR
    verbose = train_flags.VERBOSE.value
    return sweep_config.SweepConfig(
        settings=settings,
        output_dir=(
            output_dir.value if _given(output_dir.name) else "runs/sweep"
        ),
        budgets=_floats("budgets", BUDGETS.value),
        schedules=_all(SCHEDULES.value, schedules.names()),
        baselines=_all(BASELINES.value, baselines.BASELINES),
        seeds=SEEDS.value,
        grad_norm_methods=tuple(GRAD_NORM_METHODS.value),
        report=REPORT.value,
        verbose=(
            0 if not _given("verbose") or verbose == "auto" else int(verbose)
        ),
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        sweep = sweep_lib.prepare(config_from_flags())
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    try:
        sweep_lib.execute(sweep)
    except sweep_results.SweepRunningError as error:
        raise app.UsageError(str(error)) from error


if __name__ == "__main__":
    app.run(main)
