"""Argument checks shared by the library: one error shape everywhere.

Each check raises `ValueError` with the message
"Argument `name` must be <what>. Received: name=<value>".
"""

import math
import numbers
import re

# Name-scope characters that work inside `tf.function` (as when an optimizer
# calls a schedule): TensorFlow's set without `/` (Keras reserves it) and
# without the rarely meant `>` and `\`.
_SCOPE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def _fail(name, requirement, value):
    raise ValueError(
        f"Argument `{name}` must be {requirement}. Received: {name}={value!r}"
    )


def number(name, value, *, minimum=None, strict=False):
    """Returns `value` as a float after checking it is a finite real.

    Args:
        name: Python str. The argument's name, for the message.
        value: The value received.
        minimum: Optional Python float. Lower bound.
        strict: Python bool. Whether `value == minimum` is rejected.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(name, "a number", value)
    if not math.isfinite(value):
        _fail(name, "finite", value)
    if minimum is not None:
        if value < minimum or (strict and value == minimum):
            _fail(name, f"{'>' if strict else '>='} {minimum:g}", value)
    return float(value)


def integer(name, value, *, minimum=1):
    """Returns `value` as an int after checking it is a whole number.

    Integral floats (`300.0`) are accepted; booleans are not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(name, f"an integer >= {minimum}", value)
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or not float(value).is_integer():
            _fail(name, f"an integer >= {minimum}", value)
    if value < minimum:
        _fail(name, f"an integer >= {minimum}", value)
    return int(value)


def scope_name(name, value, default):
    """Returns `value`, or `default` for None, checking it names a scope.

    A schedule's name becomes a `keras.name_scope`, which in a traced
    function (every `model.fit` step) takes only ASCII letters, digits, `_`,
    `.` and `-`; checking here fails at construction, not at the first step.

    Args:
        name: Python str. The argument's name, for the message.
        value: The value received: a Python str or None.
        default: Python str. The name used when `value` is None.
    """
    if value is None:
        return default
    if not isinstance(value, str) or not _SCOPE_NAME.fullmatch(value):
        _fail(
            name,
            "None or a non-empty str of ASCII letters, digits, `_`, `.` "
            "and `-`",
            value,
        )
    return value
