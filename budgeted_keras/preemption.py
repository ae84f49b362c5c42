"""Surviving preemption: epoch backups that a restarted run resumes from.

Keras' `BackupAndRestore` restores weights inside `fit`, after the input
pipeline is built, and writes its weights and metadata as two separate,
non-atomic files. A budgeted run needs the epoch to resume from *before* it
builds its input pipeline (so that it can replay the same batches, see
`budgeted_keras.data.training_stream`), and needs weights, optimizer state
and epoch to change together. `EpochBackup` writes each backup to a new file
and then atomically replaces a small `latest.json` that names it, so a kill at
any moment leaves either the old backup or the new one, never a mix.
"""

import json
import os

import keras

_LATEST = "latest.json"


def _write_json_atomically(path, payload):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def latest(directory):
    """The metadata of the latest complete backup in `directory`, or None.

    Returns:
        None, or a dict with `epoch` (epochs completed), `updates` (applied
        optimizer updates) and `weights` (file name inside `directory`).
    """
    path = os.path.join(directory, _LATEST)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def check(directory, run):
    """Raises if the backup in `directory` belongs to a run other than `run`.

    Raises:
        ValueError: naming `directory`.
    """
    meta = latest(directory)
    if meta is None or run is None:
        return
    if meta.get("run") != json.loads(json.dumps(run)):
        raise ValueError(
            f"Argument `directory` holds the backup of a different run (at "
            f"epoch {meta['epoch']}); resuming it would mix two runs. Use "
            "another output folder, or delete that backup to start over. "
            f"Received: directory={directory!r}"
        )


def restore(model, directory, run=None):
    """Loads the latest backup into a compiled `model`, if there is one.

    Restores the weights and the optimizer state (`optimizer.iterations`
    included).

    Args:
        model: A built, compiled `keras.Model`, of the same architecture and
            optimizer as the one that wrote the backup.
        directory: Python str. The backup folder.
        run: Optional JSON-serializable description of the run (e.g. its
            configuration). A backup written with a different `run` is not
            resumed: it belongs to another run.

    Returns:
        Python int: the epoch to resume from (0 when there is no backup).

    Raises:
        ValueError: naming `directory` when its backup belongs to a run
            other than `run`.
    """
    meta = latest(directory)
    if meta is None:
        return 0
    check(directory, run)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(directory, meta["weights"]))
    return int(meta["epoch"])


class EpochBackup(keras.callbacks.Callback):
    """Backs up weights and optimizer state at the end of every epoch.

    Use with `restore` before `fit`; pass the returned epoch as
    `initial_epoch` and start the input pipeline there. The backup folder is
    removed when training ends normally, as with `BackupAndRestore`.

    Args:
        directory: Python str. The backup folder (created if needed).
        run: Optional JSON-serializable description of the run, stored with
            each backup and checked by `restore`.
        delete_on_train_end: Python bool. Remove the folder at the end.
    """

    def __init__(self, directory, run=None, delete_on_train_end=True):
        super().__init__()
        self.directory = directory
        self.run = run
        self.delete_on_train_end = delete_on_train_end

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        previous = latest(self.directory)
        name = f"epoch-{epoch + 1:06d}.weights.h5"
        self.model.save_weights(os.path.join(self.directory, name))
        _write_json_atomically(
            os.path.join(self.directory, _LATEST),
            {
                "epoch": epoch + 1,
                "updates": int(
                    keras.ops.convert_to_numpy(self.model.optimizer.iterations)
                ),
                "weights": name,
                "run": self.run,
            },
        )
        if previous and previous["weights"] != name:
            stale = os.path.join(self.directory, previous["weights"])
            if os.path.exists(stale):
                os.remove(stale)

    def on_train_end(self, logs=None):
        if not self.delete_on_train_end or not os.path.isdir(self.directory):
            return
        meta = latest(self.directory)
        os.remove(os.path.join(self.directory, _LATEST))
        if meta:
            os.remove(os.path.join(self.directory, meta["weights"]))
        if not os.listdir(self.directory):
            os.rmdir(self.directory)


class EpochLog(keras.callbacks.Callback):
    """Appends each epoch's `logs` as one JSON line, safe under resumption.

    `truncate(path, epoch)` drops lines of epochs >= `epoch`, so that a run
    resumed from a backup at `epoch` rewrites them once: no line is lost or
    duplicated, whenever the run was killed.

    Args:
        path: Python str. The JSON-lines file.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    @staticmethod
    def truncate(path, epoch):
        """Keeps only the lines of epochs < `epoch` (0 empties the file)."""
        if not os.path.exists(path):
            return
        with open(path) as f:
            lines = [
                line
                for line in f
                if line.strip() and json.loads(line)["epoch"] < epoch
            ]
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.writelines(lines)
        os.replace(tmp, path)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        with open(self.path, "a") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
