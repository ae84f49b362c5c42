"""Command-line flags of a training run, shared by the experiment scripts.

`experiments.train` and `experiments.sweep` both define a run with these
flags; `config_from_flags` turns them into a `config.TrainConfig`.
"""

from absl import flags

from budgeted_keras import tasks as tasks_lib
from budgeted_keras import schedules
from budgeted_keras import distribute
from experiments import config as config_lib

_DEFAULTS = config_lib.TrainConfig()

BUDGET = flags.DEFINE_float(
    "budget", _DEFAULTS.budget, "Fraction of the full budget (> 0)."
)
FULL_EPOCHS = flags.DEFINE_float(
    "full_epochs", _DEFAULTS.full_epochs, "Epochs of the full (100%) budget."
)
SCHEDULE = flags.DEFINE_enum(
    "schedule",
    _DEFAULTS.schedule,
    schedules.names() + schedules.aliases(),
    "Budget-aware learning-rate schedule.",
)
TASK = flags.DEFINE_enum(
    "task",
    _DEFAULTS.task,
    tasks_lib.names(),
    "What is trained: image classification, semantic segmentation, "
    "object detection or video classification.",
)
DATASET = flags.DEFINE_string(
    "dataset",
    _DEFAULTS.dataset,
    "Classification: 'digits' (scikit-learn, offline) or a TFDS "
    "image-classification name; other tasks: their TFDS dataset "
    "(cityscapes; coco/2017, voc; ucf101), by default the task's first.",
)
DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data folder.")
MODEL = flags.DEFINE_enum(
    "model",
    _DEFAULTS.model,
    list(dict.fromkeys(tasks_lib.model_names())),
    "Model configuration of the task; by default the task's small one "
    "(cnn, deeplabv3plus_small, retinanet_small, videoswin_small).",
)
BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", _DEFAULTS.batch_size, "Examples per batch.", lower_bound=1
)
LEARNING_RATE = flags.DEFINE_float(
    "learning_rate",
    _DEFAULTS.learning_rate,
    "Base learning rate.",
    lower_bound=0.0,
)
OPTIMIZER = flags.DEFINE_enum(
    "optimizer", _DEFAULTS.optimizer, list(config_lib.OPTIMIZERS), "Optimizer."
)
WEIGHT_DECAY = flags.DEFINE_float(
    "weight_decay", _DEFAULTS.weight_decay, "Weight decay.", lower_bound=0.0
)
WARMUP_FRACTION = flags.DEFINE_float(
    "warmup_fraction", 0.0, "Warmup as a fraction of the budget, in [0, 1)."
)
VALIDATION_SIZE = flags.DEFINE_integer(
    "validation_size",
    _DEFAULTS.validation_size,
    "Training examples held out for validation.",
    lower_bound=0,
)
TRAIN_SUBSET = flags.DEFINE_integer(
    "train_subset", None, "Train on only this many examples.", lower_bound=1
)
AUGMENT = flags.DEFINE_bool(
    "augment", _DEFAULTS.augment, "Random flips and translations."
)
BN_MOMENTUM = flags.DEFINE_float(
    "bn_momentum", _DEFAULTS.bn_momentum, "BatchNormalization momentum."
)
BN_RECALIBRATION_BATCHES = flags.DEFINE_integer(
    "bn_recalibration_batches",
    _DEFAULTS.bn_recalibration_batches,
    "After training, set BatchNorm moving statistics to the average over "
    "this many training batches; 0 disables.",
    lower_bound=0,
)
SEED = flags.DEFINE_integer(
    "seed", _DEFAULTS.seed, "Random seed.", lower_bound=0
)
OUTPUT_DIR = flags.DEFINE_string(
    "output_dir",
    _DEFAULTS.output_dir,
    "Output folder: result.json, log.jsonl and backups of a run; the "
    "sweep's results.jsonl and report (whose default is runs/sweep).",
)
VERBOSE = flags.DEFINE_enum(
    "verbose", "auto", ["auto", "0", "1", "2"], "model.fit verbosity."
)


STRATEGY = flags.DEFINE_enum(
    "strategy",
    _DEFAULTS.strategy,
    list(distribute.STRATEGIES),
    "tf.distribute strategy; multi_worker reads TF_CONFIG.",
)
TPU = flags.DEFINE_string("tpu", None, "TPU name or address (--strategy=tpu).")
MIXED_PRECISION = flags.DEFINE_enum(
    "mixed_precision",
    None,
    list(config_lib.MIXED_PRECISION),
    "Mixed precision compute dtype; variables and schedules stay float32.",
)
GRAD_ACCUM = flags.DEFINE_integer(
    "grad_accum",
    _DEFAULTS.grad_accum,
    "Batches per applied update (gradient accumulation).",
    lower_bound=1,
)
DETERMINISTIC = flags.DEFINE_bool(
    "deterministic", False, "TensorFlow op determinism (repeatable runs)."
)
EXPORT_DIR = flags.DEFINE_string(
    "export_dir", None, "Write a SavedModel of the trained model here."
)


def _unless_default(holder, task):
    """A flag's value, or None (the task's default) if left at the default
    of classification while another task is asked for."""
    if task != _DEFAULTS.task and flags.FLAGS[holder.name].using_default_value:
        return None
    return holder.value


def config_from_flags():
    """The `TrainConfig` the command line asks for."""
    return config_lib.TrainConfig(
        task=TASK.value,
        budget=BUDGET.value,
        full_epochs=FULL_EPOCHS.value,
        schedule=SCHEDULE.value,
        dataset=_unless_default(DATASET, TASK.value),
        data_dir=DATA_DIR.value,
        model=_unless_default(MODEL, TASK.value),
        batch_size=BATCH_SIZE.value,
        learning_rate=LEARNING_RATE.value,
        optimizer=OPTIMIZER.value,
        weight_decay=WEIGHT_DECAY.value,
        warmup_fraction=WARMUP_FRACTION.value,
        validation_size=VALIDATION_SIZE.value,
        train_subset=TRAIN_SUBSET.value,
        augment=AUGMENT.value,
        bn_momentum=BN_MOMENTUM.value,
        bn_recalibration_batches=BN_RECALIBRATION_BATCHES.value,
        seed=SEED.value,
        output_dir=OUTPUT_DIR.value,
        verbose="auto" if VERBOSE.value == "auto" else int(VERBOSE.value),
        strategy=STRATEGY.value,
        tpu=TPU.value,
        mixed_precision=MIXED_PRECISION.value,
        grad_accum=GRAD_ACCUM.value,
        deterministic=DETERMINISTIC.value,
        export_dir=EXPORT_DIR.value,
    )
