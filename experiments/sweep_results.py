"""A budget sweep's results file: reading it and grouping its runs.

The file holds one JSON object per line, one per finished run, appended as
runs finish (see `experiments.sweep_lib`). Needs only the standard library.
"""

import contextlib
import fcntl
import json
import os

SCHEDULES = (
    "constant", "step", "exponential", "polynomial", "linear", "cosine",
    "hyperbolic_tangent", "inverse_time",
)
# Budget-aware schedules: all but constant, which never decays.
BUDGET_AWARE = SCHEDULES[1:]
BASELINES = ("offshelf", "subsample", "adam", "adamw", "onecycle", "sgdr")
LABELS = {
    "constant": "constant",
    "step": "step (budget-aware)",
    "exponential": "exponential",
    "polynomial": "poly (0.9)",
    "linear": "linear",
    "cosine": "cosine",
    "hyperbolic_tangent": "HTD",
    "inverse_time": "1/t",
    "offshelf": "off-the-shelf step, cut short",
    "subsample": "step on a subset (subsample)",
    "adam": "Adam (lr 1e-3)",
    "adamw": "AdamW (lr 1e-3)",
    "onecycle": "one-cycle",
    "sgdr": "cosine with warm restarts",
}
CLASSIFICATION = "classification"
# The primary metric of results that do not name one (classification).
DEFAULT_METRIC = "accuracy"
# At 100% these baselines are, by definition, the `step` run itself (the
# full-length schedule on all the data); the sweep does not repeat them.
SAME_AS_STEP_AT_FULL_BUDGET = ("offshelf", "subsample")


def test_field(lines):
    """The result field of the sweep's primary metric, e.g. "test_mean_iou".

    Each result line names its task's primary metric (`"metric"`); lines
    without one are classification results (`test_accuracy`).
    """
    metrics = {line.get("metric", DEFAULT_METRIC) for line in lines}
    if len(metrics) > 1:
        raise ValueError(
            "Argument `results` mixes runs of several metrics "
            f"{sorted(metrics)}; a sweep has one task."
        )
    return f"test_{metrics.pop() if metrics else DEFAULT_METRIC}"


def run_key(method, budget, seed):
    """The identity of a run in the results file."""
    return f"{method}|{float(budget):g}|{int(seed)}"


def repair_results(path):
    """Removes a last line cut short (no newline) by a killed writer."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        content = f.read()
        if content and not content.endswith(b"\n"):
            f.truncate(content.rfind(b"\n") + 1)


def read_results(path):
    """The result lines of `path` as dicts ([] when the file is missing).

    Raises:
        ValueError: naming the line that is not valid JSON.
    """
    if not os.path.exists(path):
        return []
    lines = []
    with open(path) as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"Argument `results` has invalid JSON on line {number} "
                    f"({error}). Received: results={path!r}"
                ) from error
    return lines


class SweepRunningError(ValueError):
    """Another sweep is running in the same output folder."""


@contextlib.contextmanager
def exclusive(output_dir):
    """Holds the lock of `output_dir` for one running sweep.

    Raises:
        SweepRunningError: naming `output_dir` if another process holds it.
    """
    with open(os.path.join(output_dir, ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepRunningError(
                "Argument `output_dir` is in use by another running sweep; "
                "wait for it to finish or use another output_dir. "
                f"Received: output_dir={output_dir!r}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _settings(line):
    # Results written before other tasks could be swept have no task.
    return dict({"task": CLASSIFICATION}, **line.get("settings", {}))


def unique_runs(lines, path=None):
    """The runs of one sweep in `lines`, each (method, budget, seed) once.

    A run written twice (two sweeps that ran at once in one folder, or
    concatenated files) counts once, as first written.

    Raises:
        ValueError: naming `results` if the runs have different settings.
    """
    first, runs, seen = None, [], set()
    for line in lines:
        settings = _settings(line)
        if first is None:
            first = settings
        elif settings != first:
            changed = sorted(
                k
                for k in set(first) | set(settings)
                if first.get(k) != settings.get(k)
            )
            raise ValueError(
                "Argument `results` holds runs of sweeps with different "
                f"settings (differing in: {', '.join(changed)}). "
                f"Received: results={path!r}"
            )
        key = run_key(line["method"], line["budget"], line["seed"])
        if key not in seen:
            seen.add(key)
            runs.append(line)
    return runs


def ordered_methods(lines):
    """Methods present in `lines`: schedules, then baselines, then others."""
    present = {line["method"] for line in lines}
    known = [m for m in SCHEDULES + BASELINES if m in present]
    return known + sorted(present - set(known))


def values_by_cell(lines, field):
    """`{(method, budget): [value per seed]}` of the runs that finished."""
    cells = {}
    for line in lines:
        if line.get("status", "ok") != "ok" or line.get(field) is None:
            continue
        cells.setdefault((line["method"], line["budget"]), []).append(
            float(line[field])
        )
    return cells


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, var**0.5


def final_gradient_norms(lines):
    """`{(method, budget): [norm at the end of the budget per seed]}`."""
    norms = {}
    for line in lines:
        points = line.get("gradient_norm") or []
        if line.get("status", "ok") == "ok" and points and (
            points[-1]["progress"] >= 1
        ):
            norms.setdefault((line["method"], line["budget"]), []).append(
                points[-1]["gradient_norm"]
            )
    return norms


def append_result(path, result):
    """Appends `result` as one line and forces it to disk."""
    with open(path, "a") as f:
        f.write(json.dumps(result, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def finished_runs(path, fingerprint):
    """The keys of the runs already in the results file at `path`.

    A last line cut short by a kill is removed from the file.

    Raises:
        ValueError: naming `output_dir` when the file holds runs made with
            other settings (they would not be comparable).
    """
    repair_results(path)
    done = set()
    for line in read_results(path):
        settings = _settings(line)
        if settings != fingerprint:
            changed = sorted(
                k
                for k in set(fingerprint) | set(settings)
                if fingerprint.get(k) != settings.get(k)
            )
            raise ValueError(
                f"Argument `output_dir` holds results of a sweep with other "
                f"settings (differing in: {', '.join(changed)}); resume it "
                "with the same settings or use another output_dir. "
                f"Received: output_dir={os.path.dirname(path)!r}"
            )
        done.add(run_key(line["method"], line["budget"], line["seed"]))
    return done
