"""Image-classification data as `tf.data` pipelines, offline by default.

Two sources:

- `"digits"`: scikit-learn's bundled handwritten digits (1,797 8x8 grey
  images, 10 classes), which installs with the package and needs no download;
  split 80/20 into train and test, stratified, with a fixed seed.
- any TFDS image-classification dataset by name (`"cifar10"`, `"cifar100"`,
  ...), read from `data_dir` with `download=False` unless `download=True`.

A validation set is carved from the end of the training split; the test split
is kept for the final number.
"""

import dataclasses
import difflib
import os

import numpy as np
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras.budget import Budget

DIGITS = "digits"


@dataclasses.dataclass(frozen=True)
class Splits:
    """Unbatched `(image, label)` datasets and what a model needs to know.

    Attributes:
        train: `tf.data.Dataset` of float32 images in [0, 1] and int32 labels.
        validation: Same, or None when no validation set was asked for.
        test: Same.
        num_classes: Python int.
        input_shape: Tuple of Python ints, `(height, width, channels)`.
        train_size: Python int, examples in `train`.
        description: Python str, where the data came from.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    input_shape: tuple
    train_size: int
    description: str


class DatasetNotFoundError(ValueError):
    """Raised when a TFDS dataset is not prepared under `data_dir`."""


def _slice(n, validation_size, train_subset):
    """Index ranges (train, validation) inside `n` training examples."""
    validation_size = _checks.integer(
        "validation_size", validation_size, minimum=0
    )
    if validation_size >= n:
        raise ValueError(
            f"Argument `validation_size` must be < the {n} training "
            f"examples. Received: validation_size={validation_size}"
        )
    available = n - validation_size
    if train_subset is None:
        train_end = available
    else:
        train_end = _checks.integer("train_subset", train_subset)
        if train_end > available:
            raise ValueError(
                f"Argument `train_subset` must be <= the {available} training "
                "examples left after the validation set. "
                f"Received: train_subset={train_subset}"
            )
    return (0, train_end), (available, n)


def _load_digits(validation_size, train_subset):
    from sklearn import datasets as sk_datasets
    from sklearn import model_selection

    digits = sk_datasets.load_digits()
    images = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    labels = digits.target.astype("int32")
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=0
    )
    (t0, t1), (v0, v1) = _slice(len(x_train), validation_size, train_subset)

    def make(x, y):
        return tf.data.Dataset.from_tensor_slices((x, y))

    return Splits(
        train=make(x_train[t0:t1], y_train[t0:t1]),
        validation=(make(x_train[v0:v1], y_train[v0:v1]) if v1 > v0 else None),
        test=make(x_test, y_test),
        num_classes=10,
        input_shape=(8, 8, 1),
        train_size=t1 - t0,
        description="scikit-learn digits (1797 8x8 images; 80/20 split)",
    )


def tfds_builder(name, *, data_dir=None, download=False):
    """Returns the TFDS builder of `name`, prepared, without surprises.

    Never downloads unless `download` is True: a dataset that is not
    prepared under `data_dir` is an error that says how to provide it
    (including the manual-download steps TFDS documents for datasets such
    as imagenet2012 and cityscapes), never a hang on a download.

    Args:
        name: Python str. A TFDS name, optionally with config and version
            (`"coco/2017"`).
        data_dir: Optional Python str. TFDS data folder.
        download: Python bool. Whether TFDS may download and prepare it.

    Raises:
        DatasetNotFoundError: if `name` is unknown, or not prepared and
            `download` is False.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # TFDS raises several types for bad names.
        # TFDS's message goes on to list its whole catalogue.
        first = str(error).strip().split("\n")[0]
        close = difflib.get_close_matches(
            str(name).split("/")[0], tfds.list_builders(), n=3
        )
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise DatasetNotFoundError(
            f"Argument `dataset` is not a TFDS dataset this installation "
            f"knows ({first}).{hint} Received: dataset={name!r}"
        ) from error
    if not download and not builder.is_prepared():
        where = data_dir or os.environ.get(
            "TFDS_DATA_DIR", "~/tensorflow_datasets"
        )
        manual = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
        manual = (
            f" {builder.name} needs files downloaded by hand first: "
            f"{' '.join(str(manual).split())} Place them in "
            f"{os.path.join(where, 'downloads', 'manual')}."
            if manual
            else ""
        )
        raise DatasetNotFoundError(
            f"Argument `dataset` names {name!r}, which is not prepared under "
            f"data_dir={where!r}. Point `data_dir` at a folder holding "
            f"{builder.info.full_name}, prepare it with `tfds build {name} "
            "--data_dir=...` (some datasets, like imagenet2012, need their "
            "files downloaded by hand first, as the TFDS catalog describes), "
            f"or, from Python, load it with `download=True`.{manual} "
            "Received: dataset="
            f"{name!r}, data_dir={data_dir!r}"
        )
    if download:
        builder.download_and_prepare()
    return builder


def num_examples(builder, split):
    """Examples in `split` of a prepared TFDS `builder`.

    Read from the dataset info; when the info does not list the split (as
    under `tfds.testing.mock_data`), from the cardinality of the split.
    """
    if split in builder.info.splits:
        return builder.info.splits[split].num_examples
    return int(builder.as_dataset(split=split).cardinality())


def _load_tfds(name, data_dir, download, validation_size, train_subset):
    builder = tfds_builder(name, data_dir=data_dir, download=download)
    info = builder.info
    if "image" not in info.features or "label" not in info.features:
        raise ValueError(
            "Argument `dataset` must be an image-classification dataset with "
            f"'image' and 'label' features. Received: dataset={name!r}"
        )
    n = num_examples(builder, "train")
    (t0, t1), (v0, v1) = _slice(n, validation_size, train_subset)
    test_split = "test" if "test" in info.splits else "validation"

    def make(split):
        ds = builder.as_dataset(split=split, as_supervised=True)
        return ds.map(
            lambda x, y: (tf.cast(x, "float32") / 255.0, tf.cast(y, "int32")),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    return Splits(
        train=make(f"train[{t0}:{t1}]"),
        validation=make(f"train[{v0}:{v1}]") if v1 > v0 else None,
        test=make(test_split),
        num_classes=info.features["label"].num_classes,
        input_shape=tuple(info.features["image"].shape),
        train_size=t1 - t0,
        description=(
            f"TFDS {info.full_name}: train[{t0}:{t1}], validation "
            + (f"train[{v0}:{v1}]" if v1 > v0 else "none")
            + f", test {test_split}"
        ),
    )


def load(
    name=DIGITS,
    *,
    data_dir=None,
    download=False,
    validation_size=0,
    train_subset=None,
):
    """Loads an image-classification dataset as `Splits`.

    Args:
        name: Python str. `"digits"` or a TFDS dataset name.
        data_dir: Optional Python str. TFDS data folder.
        download: Python bool. Whether TFDS may download and prepare the
            data; off by default, so that a missing dataset is an error.
        validation_size: Python int >= 0. Examples held out from the end of
            the training split as a validation set.
        train_subset: Optional Python int >= 1. Use only the first this many
            remaining training examples.

    Raises:
        DatasetNotFoundError: if a TFDS dataset is unknown or not prepared
            and `download` is False; the message says how to provide it.
        ValueError: for invalid sizes.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"Argument `dataset` must be a dataset name. Received: {name!r}"
        )
    if name == DIGITS:
        return _load_digits(validation_size, train_subset)
    return _load_tfds(name, data_dir, download, validation_size, train_subset)


def batches(dataset, batch_size):
    """Batches an unbatched split in its order, for evaluation.

    Args:
        dataset: Unbatched `tf.data.Dataset` of `(image, label)`.
        batch_size: Python int >= 1.

    Returns:
        A cached, prefetched, batched `tf.data.Dataset` (the last batch may be
        smaller).
    """
    batch_size = _checks.integer("batch_size", batch_size)
    return dataset.cache().batch(batch_size).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(dataset, batch_size):
    """Batches in one pass over an unbatched split (the last may be small)."""
    batch_size = _checks.integer("batch_size", batch_size)
    return Budget(examples=_known_size(dataset), batch_size=batch_size).batches


def _known_size(dataset):
    size = int(dataset.cardinality())
    if size < 1:
        raise ValueError(
            "Argument `dataset` must have a known, finite number of examples. "
            f"Received: dataset with cardinality={size}"
        )
    return size


def training_stream(dataset, batch_size, *, seed, augment=False, start_epoch=0):
    """An endless, reproducible stream of shuffled training batches.

    Epoch `e` is the split in an order that depends only on `(seed, e)`,
    batched with `batch_size` (its last batch may be smaller), and random
    augmentation of example `j` of epoch `e` depends only on `(seed, e, j)`.
    So a run resumed at epoch `e` (`start_epoch=e`) sees exactly the batches
    an uninterrupted run sees from epoch `e` on. Examples are decoded once and
    cached in memory.

    Args:
        dataset: Unbatched `tf.data.Dataset` of `(image, label)` with known
            cardinality.
        batch_size: Python int >= 1.
        seed: Python int. Data order and augmentation seed.
        augment: Python bool. Random translation by up to an eighth of the
            image side (pad and random crop: 4 pixels for CIFAR's 32x32, 1
            for the 8x8 digits) and, for colour images, a random
            horizontal flip: the usual CIFAR augmentation. Grayscale
            images (digits, MNIST) are not flipped: a mirrored character
            is another character.
        start_epoch: Python int >= 0. First epoch of the stream.

    Returns:
        An infinite batched `tf.data.Dataset`; pair it with
        `steps_per_epoch(dataset, batch_size)` batches per epoch.
    """
    batch_size = _checks.integer("batch_size", batch_size)
    start_epoch = _checks.integer("start_epoch", start_epoch, minimum=0)
    seed = _checks.integer("seed", seed, minimum=0)
    size = _known_size(dataset)
    cached = dataset.cache()
    seed_tensor = tf.constant(seed, tf.int64)

    def permute(e):
        def apply(images, labels):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(size), seed=tf.stack([seed_tensor, e])
            )
            return tf.gather(images, order), tf.gather(labels, order)

        return apply

    def epoch(e):
        # The whole split as one element, permuted by a stateless shuffle:
        # `Dataset.shuffle` cannot take a per-epoch seed tensor when a
        # global seed is set.
        examples = cached.batch(size).map(permute(e)).unbatch()
        if augment:
            examples = examples.enumerate().map(
                lambda j, example: _augment(
                    *example, tf.stack([seed_tensor, e * size + j])
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return examples.batch(batch_size)

    stream = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch)
    return stream.prefetch(tf.data.AUTOTUNE)


def _augment(image, label, seed):
    height, width, channels = image.shape
    flip_seed, crop_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 2)
    )
    if channels == 3:
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    shift = max(1, min(height, width) // 8)
    image = tf.image.resize_with_crop_or_pad(
        image, height + 2 * shift, width + 2 * shift
    )
    image = tf.image.stateless_random_crop(
        image, [height, width, channels], crop_seed
    )
    return image, label
