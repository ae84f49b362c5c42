r"""Is the input pipeline fast enough to keep training busy, per task?

For each task, in one process: times the task's training stream alone
(TFDS read and decode, augmentation, batching; examples/s) and then
`model.fit` alone on one batch held in memory (examples/s), and prints
their ratio. Below 1 the pipeline starves training; the target is >= 3,
so that the pipeline stays ahead on a shared or busier machine. The
pipeline is timed after `WARMUP_BATCHES` untimed batches; the
training time runs from the start of the first timed step to the end of
the last (compiled and traced beforehand), so it leaves out `fit`'s own
set-up, which a real epoch of many steps amortizes; the pipeline's
iterator is closed first, so that its threads do not slow training.
Both are wall-clock rates on the same CPUs, and on a machine without an
accelerator the two also compete for those CPUs when training for real.

By default each task reads mocked TFDS data (`tfds.testing.mock_data`:
random examples of the real shapes, e.g. 1024x2048 Cityscapes frames).
A Python generator makes those far slower than TFDS reads prepared
records, so they are made once and held in memory: the timing covers
the task's own decoding (UCF101 frames), cropping, augmentation and
batching, not TFDS's reading and image decoding.

Mocked video frames are JPEG images (quality 95) of uniform random
noise, which cost about twice as much to decode as frames of real video:
on 256x256 frames, about 0.8 ms against 0.3-0.45 ms for photographs
scaled as UCF101's frames are (to 320x240, then to 256x256) and saved at
quality 75-95 (TFDS extracts UCF101's frames with ffmpeg, at its default
JPEG quality). With `--input_benchmark_frames=textured` (the default)
each mocked video frame is replaced, before the timing, by a quality-95
JPEG of the same size whose decoding costs about as much as such a
photograph's at quality 95 (the costlier end): a random 8x8 colour grid
upsampled bicubically, plus uniform noise of +-8 levels.
`--input_benchmark_frames=noise` keeps TFDS's noise frames (a worst
case). Other tasks' mocked data are unchanged. With
`--input_benchmark_data=tfds` it reads the prepared datasets under
`--input_benchmark_data_dir`, all stages included.

    python -m experiments.benchmark_input
    python -m experiments.benchmark_input --input_benchmark_tasks=detection \
        --input_benchmark_models=detection=yolov8_s
    python -m experiments.benchmark_input --input_benchmark_tasks=video \
        --input_benchmark_models=video=videoswin_small \
        --input_benchmark_frames=noise
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
    50,
    "Pipeline batches timed per task.",
    lower_bound=1,
)
FRAMES = flags.DEFINE_enum(
    "input_benchmark_frames",
    "textured",
    ["textured", "noise"],
    "Mocked video frames: textured (decoded about as fast as real video "
    "frames) or TFDS's uniform noise (a worst case).",
)
STEPS = flags.DEFINE_integer(
    "input_benchmark_steps", 3, "Training steps timed per task.", lower_bound=1
)

# Pipeline batches drawn, untimed, before the timing starts.
WARMUP_BATCHES = 10

# Each task's standard configuration (`Task.standard_model`) is measured
# by default, on its default dataset except for classification.
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


def _textured_frame(seed, shape):
    """One JPEG frame of `shape`: a smooth colour field with fine noise."""
    height, width = shape[0], shape[1]
    grid = tf.random.stateless_uniform((1, 8, 8, 3), seed, 0.0, 255.0)
    image = tf.image.resize(grid, (height, width), method="bicubic")[0]
    image += tf.random.stateless_uniform(
        (height, width, 3), seed + 1, -8.0, 8.0
    )
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), "uint8")
    return tf.io.encode_jpeg(image, quality=95)


def _textured_video(index, example):
    """`example` with each encoded frame of its `frames` re-made textured."""
    encoded = example["frames"]
    shape = tf.shape(tf.io.decode_image(encoded[0], expand_animations=False))
    frames = tf.map_fn(
        lambda i: _textured_frame(tf.stack([index, 2 * i]), shape),
        tf.range(tf.shape(encoded, out_type="int64")[0]),
        fn_output_signature=tf.TensorSpec((), tf.string),
    )
    return {**example, "frames": frames}


def _has_encoded_frames(split):
    spec = split.element_spec
    return (
        isinstance(spec, dict)
        and "frames" in spec
        and spec["frames"].dtype == tf.string
        and spec["frames"].shape.rank == 1
    )


class _StepTimer(keras.callbacks.Callback):
    """Seconds from the start of the first batch to the end of the last."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end = time.perf_counter()


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
    frames="textured",
):
    """Pipeline and training throughput of one task, in examples/s.

    Args:
        task_name: Python str, a task of `budgeted_keras.tasks`.
        model: Optional Python str; the task's standard configuration by
            default.
        dataset: Optional Python str; the task's default dataset by default.
        batch_size: Python int, examples per batch.
        pipeline_batches: Python int, pipeline batches timed.
        train_steps: Python int, training steps timed.
        data: Python str, "mock" (mocked TFDS examples) or "tfds".
        data_dir: Optional Python str, the TFDS data folder.
        frames: Python str, "textured" or "noise": the mocked video frames
            (see the module docstring); ignored for prepared data.

    Returns:
        Dict with `task`, `model`, `dataset`, `pipeline_examples_per_s`,
        `train_examples_per_s` and their `ratio` (pipeline / training).
    """
    task = tasks_lib.get(task_name)
    model = model or task.standard_model
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
            split = split.take(4 * batch_size)
            if frames == "textured" and _has_encoded_frames(split):
                split = split.enumerate().map(_textured_video)
            split = split.cache()
            for _ in split:
                pass
        stream = task.training_stream(
            split, batch_size, model=model, seed=0, augment=True
        )
        batches = iter(stream)
        # Starts the threads and lets tf.data's autotuning settle, as it
        # has a few batches into a real run.
        for _ in range(WARMUP_BATCHES):
            next(batches)
        pipeline = _timed_examples(batches, pipeline_batches)
        batch = next(batches)
        del batches  # Stops the pipeline's threads.
    network = task.build_model(model, splits, seed=0)
    task.compile(network, keras.optimizers.SGD(1e-3, momentum=0.9))
    repeated = tf.data.Dataset.from_tensors(batch).repeat()
    network.fit(repeated, steps_per_epoch=1, epochs=1, verbose=0)  # Traces.
    timer = _StepTimer()
    network.fit(
        repeated,
        steps_per_epoch=train_steps,
        epochs=1,
        verbose=0,
        callbacks=[timer],
    )
    seconds = timer.end - timer.start
    train = train_steps * int(tf.shape(batch[0])[0]) / seconds
    return {
        "task": task_name,
        "model": model,
        "dataset": dataset,
        "data": data,
        "frames": frames if data == "mock" else None,
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
            frames=FRAMES.value,
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
