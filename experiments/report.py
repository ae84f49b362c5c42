r"""Writes the tables and plots of a budget sweep from its `results.jsonl`.

Writes `<report_dir>/report.md` (the metric per method and budget as
mean ± std over seeds with the best per budget in bold, the paper's claims
checked on these numbers, the effect of BatchNorm recalibration, the
gradient norm at the end of each budget) and PNG plots under
`<report_dir>/figures/` (learning rate against progress, the metric against
budget with the best-per-budget envelope, the gradient norm against
progress). `experiments.sweep` writes the same report when its grid is done.
From the repository root:

    python -m experiments.report --results=runs/sweep/results.jsonl
    python -m experiments.report --results=runs/sweep/results.jsonl \
        --report_dir=docs --metric=validation_accuracy
"""

import os

from absl import app
from absl import flags

from experiments import report_lib

RESULTS = flags.DEFINE_string(
    "results", None, "A sweep's results.jsonl file."
)
REPORT_DIR = flags.DEFINE_string(
    "report_dir", None,
    "Folder for report.md and figures/ (default: that of --results).",
)
METRIC = flags.DEFINE_string(
    "metric", None,
    "The result field the main table and plots show, e.g. "
    "'validation_accuracy' or 'test_accuracy_no_recal' (default: the test "
    "value of the task's primary metric: test_accuracy, test_mean_iou, "
    "test_box_map).",
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not RESULTS.value:
        raise app.UsageError("Flag --results is required.")
    if not os.path.isfile(RESULTS.value):
        raise app.UsageError(
            f"Flag --results must name a results file. Received: "
            f"results={RESULTS.value!r}"
        )
    report_dir = REPORT_DIR.value or os.path.dirname(RESULTS.value) or "."
    try:
        report_lib.write_report(RESULTS.value, report_dir, METRIC.value)
    except ValueError as error:
        raise app.UsageError(str(error)) from error


if __name__ == "__main__":
    app.run(main)
