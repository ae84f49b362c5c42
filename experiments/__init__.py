"""Command-line experiments: thin absl mains over testable functions."""

import os

# TensorFlow's C++ start-up messages drown the scripts' own logging.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
