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
        return tf.distribute.MirroredStrategy(cpus)
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
