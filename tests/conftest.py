"""Pytest setup shared by the tests: quiet TensorFlow, two logical CPUs.

The physical CPU is split into two logical devices before anything starts
TensorFlow's runtime, so that `tf.distribute.MirroredStrategy` tests can
replicate over `/cpu:0` and `/cpu:1` on a machine without accelerators.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402  (must follow the environment setup)

_LOGICAL_CPUS = 2


def _split_cpu():
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0],
            [tf.config.LogicalDeviceConfiguration()] * _LOGICAL_CPUS,
        )
    except RuntimeError:
        # The runtime is already initialized (e.g. a plugin used TensorFlow
        # first); the MirroredStrategy tests then skip themselves.
        pass


_split_cpu()


def _parse_absl_flags():
    # absltest's create_tempdir reads --test_tmpdir; pytest does not parse
    # absl flags, so take the defaults.
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


_parse_absl_flags()
