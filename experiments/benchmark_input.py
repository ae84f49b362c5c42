r"""Is the input pipeline fast enough to keep training busy, per task?

For each task, in one process: times the task's training stream alone
(TFDS read and decode, augmentation, batching; examples/s) and then
`model.fit` alone on one batch held in memory (examples/s), and prints
their ratio. Below 1 the pipeline starves training; the target is >= 3,
so that the pipeline stays ahead on a shared or busier machine.

By default each task reads mocked TFDS data (`tfds.testing.mock_data`:
random examples of the real shapes, e.g. 1024x2048 Cityscapes frames).
A Python generator makes those far slower than TFDS reads prepared
records, so they are made once and held in memory: the timing covers
the task's own decoding (UCF101 frames), cropping, augmentation and
batching, not TFDS's reading and image decoding. With
`--input_benchmark_data=tfds` it reads the prepared datasets under
`--input_benchmark_data_dir`, all stages included.

    python -m experiments.benchmark_input
    python -m experiments.benchmark_input --input_benchmark_tasks=detection \
        --input_benchmark_models=detection=yolov8_s
    python -m experiments.benchmark_input --input_benchmark_data=tfds \
        --input_benchmark_data_dir=../shared/data/tfds \
        --input_benchmark_tasks=classification \
        --input_benchmark_datasets=classification=cifar10
"""

import contextlib
import json
import time
from unittest import mock

import keras
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

from budgeted_keras import tasks as tasks_lib

TASKS = flags.DEFINE_list(
    "input_benchmark_tasks", tasks_lib.names(), "Tasks to measure."
)
MODELS = flags.DEFINE_list(
    "input_benchmark_models",
    [],
    "task=model overrides; by default each task's standard configuration.",
)
DATASETS = flags.DEFINE_list(
    "input_benchmark_datasets",
    [],
    "task=dataset overrides; by default each task's default dataset.",
)
DATA = flags.DEFINE_enum(
    "input_benchmark_data",
    "mock",
    ["mock", "tfds"],
    "Mocked TFDS examples, or the prepared datasets.",
)
DATA_DIR = flags.DEFINE_string(
    "input_benchmark_data_dir", None, "TFDS data folder (with 'tfds')."
)
BATCH_SIZE = flags.DEFINE_integer(
    "input_benchmark_batch_size", 2, "Examples per batch.", lower_bound=1
)
BATCHES = flags.DEFINE_integer(
    "input_benchmark_batches",
    10,
    "Pipeline batches timed per task.",
    lower_bound=1,
)
STEPS = flags.DEFINE_integer(
    "input_benchmark_steps", 3, "Training steps timed per task.", lower_bound=1
)

# The standard configuration of each task, measured by default.
STANDARD_MODELS = {
    "classification": "cifar_resnet18",
    "segmentation": "deeplabv3plus",
    "detection": "retinanet",
    "video": "videoswin_tiny",
}
DEFAULT_DATASETS = {"classification": "cifar10"}


@contextlib.contextmanager
def mocked_tfds(num_examples):
    """Random TFDS examples for every dataset, as if prepared."""
    import tensorflow_datasets as tfds

    with (
        tfds.testing.mock_data(num_examples=num_examples),
        mock.patch.object(
            tfds.core.DatasetBuilder, "is_prepared", return_value=True
        ),
    ):
        yield


def _timed_examples(batches, count):
    """Examples per second over `count` batches of an iterator."""
    examples = 0
    start = time.perf_counter()
    for _ in range(count):
        images = next(batches)[0]
        examples += int(tf.shape(images)[0])
    return examples / (time.perf_counter() - start)


def measure(
    task_name,
    *,
    model=None,
    dataset=None,
    batch_size=2,
    pipeline_batches=10,
    train_steps=3,
    data="mock",
    data_dir=None,
):
    """Pipeline and training throughput of one task, in examples/s.

    Returns:
        Dict with `task`, `model`, `dataset`, `pipeline_examples_per_s`,
        `train_examples_per_s` and their `ratio` (pipeline / training).
    """
    task = tasks_lib.get(task_name)
    model = model or STANDARD_MODELS[task_name]
    dataset = dataset or DEFAULT_DATASETS.get(task_name, task.default_dataset)
    context = (
        mocked_tfds(4 * batch_size)
        if data == "mock"
        else contextlib.nullcontext()
    )
    with context:
        splits = task.load(dataset, data_dir=data_dir)
        split = splits.train
        if data == "mock":
            # Mocked examples come from a Python generator, far slower than
            # reading prepared records: make them once, outside the timing.
            split = split.take(4 * batch_size).cache()
            for _ in split:
                pass
        stream = task.training_stream(
            split, batch_size, model=model, seed=0, augment=True
        )
        batches = iter(stream)
        next(batches)  # Starts the threads and fills the prefetch buffer.
        pipeline = _timed_examples(batches, pipeline_batches)
        batch = next(batches)
    network = task.build_model(model, splits, seed=0)
    task.compile(network, keras.optimizers.SGD(1e-3, momentum=0.9))
    repeated = tf.data.Dataset.from_tensors(batch).repeat()
    network.fit(repeated, steps_per_epoch=1, epochs=1, verbose=0)  # Traces.
    start = time.perf_counter()
    network.fit(repeated, steps_per_epoch=train_steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    train = train_steps * int(tf.shape(batch[0])[0]) / seconds
    return {
        "task": task_name,
        "model": model,
        "dataset": dataset,
        "data": data,
        "pipeline_examples_per_s": round(pipeline, 2),
        "train_examples_per_s": round(train, 2),
        "ratio": round(pipeline / train, 2),
    }


def _pairs(values, flag):
    out = {}
    for value in values:
        key, sep, name = value.partition("=")
        if not sep or key not in tasks_lib.names():
            raise app.UsageError(
                f"Flag --{flag} takes task=name pairs with a task in "
                f"{tasks_lib.names()}. Received: {value!r}"
            )
        out[key] = name
    return out


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    models = _pairs(MODELS.value, "input_benchmark_models")
    datasets = _pairs(DATASETS.value, "input_benchmark_datasets")
    rows = []
    for task_name in TASKS.value:
        row = measure(
            task_name,
            model=models.get(task_name),
            dataset=datasets.get(task_name),
            batch_size=BATCH_SIZE.value,
            pipeline_batches=BATCHES.value,
            train_steps=STEPS.value,
            data=DATA.value,
            data_dir=DATA_DIR.value,
        )
        logging.info("%s", json.dumps(row))
        rows.append(row)
    print(
        f"{'task':<15}{'model':<20}{'pipeline ex/s':>15}"
        f"{'train ex/s':>12}{'ratio':>8}"
    )
    for row in rows:
        flag = "" if row["ratio"] >= 3 else "  < 3: pipeline-bound"
        print(
            f"{row['task']:<15}{row['model']:<20}"
            f"{row['pipeline_examples_per_s']:>15.2f}"
            f"{row['train_examples_per_s']:>12.2f}{row['ratio']:>8.2f}{flag}"
        )


if __name__ == "__main__":
    app.run(main)
