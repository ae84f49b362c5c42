"""Budget-aware learning-rate schedules (Keras `LearningRateSchedule`s)."""

from budgeted_keras.schedules.base import BudgetSchedule
from budgeted_keras.schedules.decays import Constant
from budgeted_keras.schedules.decays import Cosine
from budgeted_keras.schedules.decays import Exponential
from budgeted_keras.schedules.decays import HyperbolicTangent
from budgeted_keras.schedules.decays import InverseTime
from budgeted_keras.schedules.decays import Linear
from budgeted_keras.schedules.decays import Polynomial
from budgeted_keras.schedules.decays import Step
from budgeted_keras.schedules.factory import aliases
from budgeted_keras.schedules.factory import canonical_name
from budgeted_keras.schedules.factory import get
from budgeted_keras.schedules.factory import names
from budgeted_keras.schedules.rescaled import Rescaled
