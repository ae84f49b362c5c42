"""The tasks by name, for flags and configurations."""

from budgeted_keras.tasks import classification
from budgeted_keras.tasks import detection
from budgeted_keras.tasks import segmentation
from budgeted_keras.tasks import video

_TASKS = {
    task.name: task
    for task in (
        classification.Classification(),
        segmentation.Segmentation(),
        detection.Detection(),
        video.Video(),
    )
}


def names():
    """The task names `get` accepts, classification first."""
    return list(_TASKS)


def get(name):
    """The task called `name` (a `base.Task`).

    Raises:
        ValueError: if `name` is not one of `names()`.
    """
    if name not in _TASKS:
        raise ValueError(
            f"Argument `task` must be one of {names()}. Received: task={name!r}"
        )
    return _TASKS[name]


def model_names():
    """Every model name of every task (for the `--model` flag)."""
    return [model for task in _TASKS.values() for model in task.model_names()]
