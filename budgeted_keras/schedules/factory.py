"""Schedules by name, for flags and configuration files."""

from budgeted_keras.schedules import decays

_CLASSES = {
    "constant": decays.Constant,
    "step": decays.Step,
    "exponential": decays.Exponential,
    "polynomial": decays.Polynomial,
    "linear": decays.Linear,
    "cosine": decays.Cosine,
    "hyperbolic_tangent": decays.HyperbolicTangent,
    "inverse_time": decays.InverseTime,
}
_ALIASES = {
    "exp": "exponential",
    "poly": "polynomial",
    "htd": "hyperbolic_tangent",
    "tanh": "hyperbolic_tangent",
    "inv": "inverse_time",
    "1/t": "inverse_time",
}


def names():
    """The canonical lower-case schedule names, in the paper's table order."""
    return list(_CLASSES)


def aliases():
    """The other names `get` accepts (e.g. "htd", "poly"), sorted."""
    return sorted(_ALIASES)


def canonical_name(name):
    """Returns the canonical name for `name` or an alias of it.

    Raises:
        ValueError: if `name` is not a str that names a known schedule.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    key = _ALIASES.get(key, key)
    if key not in _CLASSES:
        choices = ", ".join(names() + aliases())
        kind = "" if isinstance(name, str) else "a str, "
        raise ValueError(
            f"Argument `name` must be {kind}one of: {choices}. "
            f"Received: name={name!r}"
        )
    return key


def get(name, **kwargs):
    """Builds a budget-aware schedule from its name.

    >>> get("htd", initial_learning_rate=0.1, budget=300)
    <budgeted_keras.schedules.decays.HyperbolicTangent object at ...>

    Args:
        name: Python str. A name from `names()` or an alias: "exp", "poly",
            "htd", "tanh", "inv", "1/t". Case-insensitive.
        **kwargs: Arguments of the schedule class (`initial_learning_rate`,
            `budget`, warmup, shape parameters).

    Raises:
        ValueError: if `name` is not a str naming a known schedule (checked
            before any other argument), or an argument is invalid.
        TypeError: if an argument is not one the schedule takes.
    """
    return _CLASSES[canonical_name(name)](**kwargs)
