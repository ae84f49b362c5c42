"""Tasks trained under a budget: classification, segmentation, detection,
video. `get(name)` returns one; see `base.Task` for what each provides."""

from budgeted_keras.tasks.base import DatasetSpec
from budgeted_keras.tasks.base import ModelConfig
from budgeted_keras.tasks.base import Task
from budgeted_keras.tasks.registry import get
from budgeted_keras.tasks.registry import model_names
from budgeted_keras.tasks.registry import names
