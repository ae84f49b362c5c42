"""`tf.distribute` strategies by name, for flags."""

import tensorflow as tf

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")


def get_strategy(name="default", *, tpu=None):
    """Builds the `tf.distribute.Strategy` called `name`.

    Args:
        name: Python str, one of `STRATEGIES`: "default" (the current
            strategy, one device), "one_device" (the first GPU, else the
            CPU), "mirrored" (all local GPUs, or logical CPUs where no GPU),
            "multi_worker" (`MultiWorkerMirroredStrategy`, cluster from the
            `TF_CONFIG` environment variable), "tpu" (needs `tpu`).
        tpu: Optional Python str. TPU name or address, for "tpu".

    Raises:
        ValueError: for an unknown `name`, or "tpu" without `tpu`.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(
            gpus[0].name if gpus else "/cpu:0"
        )
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        # Reduce through one device: CPU collectives of several mirrored
        # strategies in one process clash on their instance keys.
        return tf.distribute.MirroredStrategy(
            cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        if not tpu:
            raise ValueError(
                "Argument `tpu` is required with strategy='tpu'. "
                f"Received: tpu={tpu!r}"
            )
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(
        f"Argument `strategy` must be one of {STRATEGIES}. "
        f"Received: strategy={name!r}"
    )


def is_chief(strategy):
    """Whether this process should write results (the chief or only task)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if "chief" in resolver.cluster_spec().as_dict():
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def _reduce_scalars_across_workers(reduce_per_replica):
    """Keras' `reduce_per_replica` with the multi-worker "mean" fixed.

    Keras reduces per-replica metric values of a multi-worker strategy with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars; the mean
    across replicas (`axis=None`) is what is meant.
    """

    def reduce(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):

            def mean(value):
                if isinstance(value, tf.distribute.DistributedValues):
                    return strategy.reduce("MEAN", value, axis=None)
                return value

            return tf.nest.map_structure(mean, values)
        return reduce_per_replica(values, strategy, reduction)

    reduce.budgeted_keras_patch = True
    return reduce


def prepare_model(model, strategy, sample_batch):
    """Makes a compiled model trainable by `fit` under `strategy`.

    A no-op except for `MultiWorkerMirroredStrategy`, with which Keras 3's
    TensorFlow trainer fails (keras-team/keras#20585): `fit` first reduces a
    distributed input batch in eager mode to build the model, and then
    reduces scalar metrics along axis 0. This builds the model, its loss,
    metrics and optimizer from a local `sample_batch` instead (so `fit` has
    nothing to build), and fixes the metric reduction. Remove once Keras
    supports multi-worker training.

    Args:
        model: A compiled `keras.Model`, made inside `strategy.scope()`.
        strategy: The `tf.distribute.Strategy` the model was made under.
        sample_batch: One `(x, y)` batch, not distributed.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if not getattr(tf_trainer.reduce_per_replica, "budgeted_keras_patch", 0):
        tf_trainer.reduce_per_replica = _reduce_scalars_across_workers(
            tf_trainer.reduce_per_replica
        )
    with strategy.scope():
        model._symbolic_build(data_batch=sample_batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
