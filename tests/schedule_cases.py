"""Shared reference values for the `budgeted_keras.schedules` tests.

Expected values come from the paper's reference numbers or from the shapes'
formulas written out again here with plain `math` (never from the library's
own code), with `lr0 = 0.1` and a budget of `T = 300` updates unless a case
says otherwise. The step convention is 0-based: update `t` uses `p = t / T`.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from budgeted_keras import schedules

LR0 = 0.1
TOTAL = 300

# The factor f(p) of each shape with its default parameters, from the paper's
# table, for p in [0, 1]. Step decay is checked against hand-made tables.
FACTORS = {
    "constant": lambda p: 1.0,
    "exponential": lambda p: math.exp(-10.0 * p),
    "polynomial": lambda p: (1.0 - p) ** 0.9,
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),
    "hyperbolic_tangent": lambda p: 0.5 * (1.0 - math.tanh(-6.0 + 9.0 * p)),
    "inverse_time": lambda p: 1.0 / (1.0 + 1000.0 * p),
}


def _step_factor(p):
    """Default step decay: x0.1 from p >= 1/3 and again from p >= 2/3."""
    return 1.0 if 3 * p < 1 else (0.1 if 3 * p < 2 else 0.01)


FACTORS["step"] = _step_factor

CLASSES = {
    "constant": schedules.Constant,
    "step": schedules.Step,
    "exponential": schedules.Exponential,
    "polynomial": schedules.Polynomial,
    "linear": schedules.Linear,
    "cosine": schedules.Cosine,
    "hyperbolic_tangent": schedules.HyperbolicTangent,
    "inverse_time": schedules.InverseTime,
}
NAMES = tuple(CLASSES)


def expected_rate(name, step, total=TOTAL, lr0=LR0, warmup=0):
    """The reference rate at 0-based update `step`, written out in math."""
    if step < warmup:
        return lr0 * step / warmup
    decay = total - warmup
    p = min(step - warmup, decay) / decay
    return lr0 * FACTORS[name](p)


def rate_of(schedule, step):
    """The rate `schedule` gives at `step`, as a Python float."""
    return float(keras.ops.convert_to_numpy(schedule(step)))


def assert_close(testcase, actual, expected, rtol=1e-5, atol=2e-8):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    testcase.assertTrue(np.all(np.isfinite(actual)))


def step_forms(step):
    """`step` as the types Keras and users pass to a schedule."""
    return (
        ("python_int", step),
        ("numpy_int32", np.int32(step)),
        ("numpy_int64", np.int64(step)),
        ("tensor_int32", tf.constant(step, tf.int32)),
        ("tensor_int64", tf.constant(step, tf.int64)),
        ("variable_int64", tf.Variable(step, dtype=tf.int64)),
        ("tensor_float32", tf.constant(float(step), tf.float32)),
    )


def piecewise():
    """A full run of 9000 updates, x0.1 after update 3000 and after 6000."""
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [3000, 6000], [0.1, 0.01, 0.001]
    )
