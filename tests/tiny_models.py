"""Tiny models, data and recorders for tests of schedules in training.

Each test trains a one-layer Dense model on a few random examples for at most
a few hundred updates. Expected learning rates are the paper's reference
values or the shapes' formulas written out again with plain `math`.
"""

import math

import keras
import numpy as np
import tensorflow as tf

LR0 = 0.1

# f(p) for the shapes used below, with their default parameters.
FACTORS = {
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),
    "polynomial": lambda p: (1.0 - p) ** 0.9,
    "exponential": lambda p: math.exp(-10.0 * p),
    "hyperbolic_tangent": lambda p: 0.5 * (1.0 - math.tanh(-6.0 + 9.0 * p)),
    "step": lambda p: 1.0 if 3 * p < 1 else (0.1 if 3 * p < 2 else 0.01),
}


def reference_rate(name, update, total, lr0=LR0):
    """Reference rate of 0-based applied update `update` of `total`."""
    return lr0 * FACTORS[name](min(update, total) / total)


def linear_rates(total, lr0=LR0):
    """Reference rates of the `total` updates of a linear decay."""
    return [lr0 * (1 - t / total) for t in range(total)]


def random_arrays(num_examples, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_examples, 3)).astype("float32")
    y = rng.normal(size=(num_examples, 1)).astype("float32")
    return x, y


def make_dataset(num_batches, batch_size=2, seed=0):
    """A batched dataset of `num_batches` batches, in a fixed order."""
    x, y = random_arrays(num_batches * batch_size, seed)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def sgd_model(learning_rate, momentum=0.0, **optimizer_kwargs):
    """A compiled one-layer model with identical initial weights each time."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(
        learning_rate, momentum=momentum, **optimizer_kwargs
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def current_rate(optimizer):
    """The rate the optimizer's next update will use."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def updates_of(optimizer):
    """How many updates the optimizer has applied."""
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


class Recorder(keras.callbacks.Callback):
    """Keeps every batch's logs and the kernel after every batch."""

    def __init__(self):
        super().__init__()
        self.batch_logs = []
        self.kernels = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(
            {k: float(np.asarray(v)) for k, v in (logs or {}).items()}
        )
        self.kernels.append(
            keras.ops.convert_to_numpy(self.model.layers[0].kernel).copy()
        )

    def logged(self, key):
        return [logs[key] for logs in self.batch_logs]
