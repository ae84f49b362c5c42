"""Argument checks shared by the library: one error shape everywhere.

Each check raises `ValueError` with the message
"Argument `name` must be <what>. Received: name=<value>".
"""

import math
import numbers


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
