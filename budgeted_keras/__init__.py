"""budgeted_keras: Keras training under a fixed budget of optimizer updates."""

from budgeted_keras import batchnorm
from budgeted_keras import callbacks
from budgeted_keras import convergence
from budgeted_keras import schedules
from budgeted_keras.budget import Budget
from budgeted_keras.training import fit

__version__ = "0.1.0"
