r"""Measures what a budget schedule costs per training step.

Times `model.fit` of the same model with three learning rates, side by side
in one process: a float, `budgeted_keras.schedules.Linear`, and Keras' own
`keras.optimizers.schedules.CosineDecay`. Each round times every variant once,
in a rotating order; the ratios are computed within a round (so that machine
noise hits both sides alike) and the median over rounds is printed.

    python -m experiments.benchmark
    python -m experiments.benchmark --benchmark_rounds=15 --benchmark_steps=300
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import budgeted_keras as bk

ROUNDS = flags.DEFINE_integer(
    "benchmark_rounds", 9, "Timed rounds.", lower_bound=1
)
STEPS = flags.DEFINE_integer(
    "benchmark_steps",
    200,
    "Training steps timed per variant per round.",
    lower_bound=1,
)
BATCH_SIZE = flags.DEFINE_integer(
    "benchmark_batch_size", 64, "Batch size.", lower_bound=1
)
JIT_COMPILE = flags.DEFINE_bool(
    "benchmark_jit_compile", False, "Compile with XLA."
)


def _variants(budget):
    return {
        "float": lambda: 0.1,
        "budget_linear": lambda: bk.schedules.Linear(0.1, budget),
        "keras_cosine": lambda: keras.optimizers.schedules.CosineDecay(
            0.1, budget.steps
        ),
    }


def _model(learning_rate, jit_compile):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def measure(rounds, steps, batch_size, jit_compile=False):
    """Returns per-variant step times and per-round ratios.

    Returns:
        A dict with `seconds_per_step` (variant -> median over rounds) and
        `ratios` (name -> median over rounds of the within-round ratio).
    """
    rng = np.random.default_rng(0)
    x = rng.random((batch_size * 8, 16, 16, 3), dtype="float32")
    y = rng.integers(0, 10, batch_size * 8).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    data = data.cache().repeat()
    budget = bk.Budget(steps=(rounds + 1) * steps * 4)
    models = {
        name: _model(make(), jit_compile)
        for name, make in _variants(budget).items()
    }
    names = list(models)

    def run(model):
        model.fit(
            data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False
        )

    for model in models.values():  # Trace and warm up.
        run(model)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            run(models[name])
            times[name].append((time.perf_counter() - start) / steps)
    pairs = {
        "budget_linear / float": ("budget_linear", "float"),
        "keras_cosine / float": ("keras_cosine", "float"),
        "budget_linear / keras_cosine": ("budget_linear", "keras_cosine"),
    }
    return {
        "seconds_per_step": {n: statistics.median(t) for n, t in times.items()},
        "ratios": {
            label: statistics.median(
                a / b for a, b in zip(times[num], times[den])
            )
            for label, (num, den) in pairs.items()
        },
    }


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    result = measure(
        ROUNDS.value, STEPS.value, BATCH_SIZE.value, JIT_COMPILE.value
    )
    print(
        f"model.fit step time, median of {ROUNDS.value} rounds x "
        f"{STEPS.value} steps (batch {BATCH_SIZE.value}, "
        f"jit_compile={JIT_COMPILE.value}):"
    )
    for name, seconds in result["seconds_per_step"].items():
        print(f"  {name:<15} {seconds * 1e3:8.3f} ms/step")
    print(
        "Ratios (median of within-round ratios; target budget/float <= 1.01):"
    )
    for label, ratio in result["ratios"].items():
        print(f"  {label:<30} {ratio:.4f}")


if __name__ == "__main__":
    app.run(main)
