"""Tables of a budget sweep from its `results.jsonl`; see `experiments.report`.

Needs only the standard library (and matplotlib for the figures).
"""

import json
import os

from experiments import report_plots
from experiments import sweep_results
from experiments.sweep_results import LABELS
from experiments.sweep_results import final_gradient_norms
from experiments.sweep_results import mean_std
from experiments.sweep_results import ordered_methods
from experiments.sweep_results import values_by_cell

def _budgets(lines):
    steps = {}
    for line in lines:
        steps[line["budget"]] = line.get("budget_steps")
    return sorted(steps), steps


def _header(budgets, steps, first="method"):
    labels = [
        f"{100 * b:g}% ({steps[b]})" if steps.get(b) else f"{100 * b:g}%"
        for b in budgets
    ]
    return (
        f"| {first} | " + " | ".join(labels) + " |\n"
        + "|---" * (len(budgets) + 1) + "|\n"
    )


def _cell(values, digits, seeds):
    mean, std = mean_std(values)
    text = f"{mean:.{digits}f}"
    if len(values) > 1:
        text += f" ± {std:.{digits}f}"
    if seeds and len(values) != seeds:
        text += f" (n={len(values)})"
    return text


def higher_is_better(field):
    """Whether a larger `field` is better: all but losses (`*loss*`)."""
    return "loss" not in field


def metric_table(lines, field="test_accuracy", methods=None, digits=3):
    """A Markdown table of `field`, mean ± std per method and budget.

    The best mean of each budget column (over the rows shown; the lowest
    for a loss) is in bold, ties included. A cell shows `(n=k)` when it
    has another number of seeds than the sweep, `diverged` when all its
    runs diverged, `—` when it has no run, and `= step` for the baselines
    that are the `step` run at 100%.
    """
    budgets, steps = _budgets(lines)
    cells = values_by_cell(lines, field)
    diverged = {
        (line["method"], line["budget"])
        for line in lines
        if line.get("status", "ok") != "ok"
    }
    methods = [m for m in (methods or ordered_methods(lines))
               if any((m, b) in cells or (m, b) in diverged for b in budgets)]
    seeds = len({line["seed"] for line in lines})
    best = {}
    for b in budgets:
        means = [mean_std(cells[m, b])[0] for m in methods if (m, b) in cells]
        pick = max if higher_is_better(field) else min
        best[b] = pick(means) if means else None
    table = _header(budgets, steps)
    for m in methods:
        row = []
        for b in budgets:
            if (m, b) not in cells:
                same = b >= 1 and (
                    m in sweep_results.SAME_AS_STEP_AT_FULL_BUDGET
                )
                row.append(
                    "= step" if same
                    else "diverged" if (m, b) in diverged else "—"
                )
                continue
            text = _cell(cells[m, b], digits, seeds)
            if mean_std(cells[m, b])[0] == best[b]:
                text = f"**{text}**"
            row.append(text)
        table += f"| {LABELS.get(m, m)} | " + " | ".join(row) + " |\n"
    return table


def recalibration_table(lines, field="test_accuracy", digits=3):
    """`field` before → after BatchNorm recalibration, seed means.

    The values before are those of `<field>_no_recal`.
    """
    budgets, steps = _budgets(lines)
    before = values_by_cell(lines, f"{field}_no_recal")
    after = values_by_cell(lines, field)
    table = _header(budgets, steps)
    for m in ordered_methods(lines):
        if not any((m, b) in before and (m, b) in after for b in budgets):
            continue
        row = []
        for b in budgets:
            if (m, b) in before and (m, b) in after:
                row.append(
                    f"{mean_std(before[m, b])[0]:.{digits}f} → "
                    f"{mean_std(after[m, b])[0]:.{digits}f}"
                )
            else:
                row.append("—")
        table += f"| {LABELS.get(m, m)} | " + " | ".join(row) + " |\n"
    return table


def gradient_norm_table(lines):
    """Gradient norm at the end of each budget, mean ± std over seeds."""
    budgets, steps = _budgets(lines)
    norms = final_gradient_norms(lines)
    seeds = len({line["seed"] for line in lines})
    table = _header(budgets, steps)
    for m in ordered_methods(lines):
        if any((m, b) in norms for b in budgets):
            row = [
                _cell(norms[m, b], 3, seeds) if (m, b) in norms else "—"
                for b in budgets
            ]
            table += f"| {LABELS.get(m, m)} | " + " | ".join(row) + " |\n"
    return table


def _difference_row(name, budgets, a, b, condition, cells, sign=1):
    row = []
    for budget in budgets:
        if not condition(budget) or (a, budget) not in cells or (
            b, budget
        ) not in cells:
            row.append("")
            continue
        diff = mean_std(cells[a, budget])[0] - mean_std(cells[b, budget])[0]
        better = sign * diff > 0
        row.append(f"{diff:+.3f} {'yes' if better else '**no**'}")
    return f"| {name} | " + " | ".join(row) + " |\n"


def claims_table(lines, field="test_accuracy"):
    """The paper's claims, checked on the seed means of `field`.

    Rows: linear − budget-aware step (budgets <= 25%); the smallest margin
    of any budget-aware schedule over the off-the-shelf schedule cut short
    (budgets < 100%), naming that schedule and counting the schedules ahead;
    linear − subsample; linear's metric as a fraction of its own at 100%.
    A claim holds ("yes") when the difference favours the first method:
    positive, or negative for a loss.
    """
    budgets, steps = _budgets(lines)
    cells = values_by_cell(lines, field)
    sign = 1 if higher_is_better(field) else -1
    table = _header(budgets, steps, first="claim")
    table += _difference_row(
        "linear − step, budgets ≤ 25%", budgets, "linear", "step",
        lambda b: b <= 0.25, cells, sign,
    )
    row = []
    for b in budgets:
        aware = [m for m in sweep_results.BUDGET_AWARE if (m, b) in cells]
        if b >= 1 or not aware or ("offshelf", b) not in cells:
            row.append("")
            continue
        off = mean_std(cells["offshelf", b])[0]
        worst = min(aware, key=lambda m: sign * mean_std(cells[m, b])[0])
        diff = mean_std(cells[worst, b])[0] - off
        ahead = sum(sign * (mean_std(cells[m, b])[0] - off) > 0 for m in aware)
        row.append(
            f"{diff:+.3f} {'yes' if sign * diff > 0 else '**no**'} "
            f"(worst: {LABELS[worst]}; {ahead}/{len(aware)} ahead)"
        )
    table += (
        "| worst budget-aware − off-the-shelf, budgets < 100% | "
        + " | ".join(row) + " |\n"
    )
    table += _difference_row(
        "linear − subsample", budgets, "linear", "subsample",
        lambda b: b < 1, cells, sign,
    )
    row = []
    full = cells.get(("linear", 1.0))
    for b in budgets:
        if not full or ("linear", b) not in cells:
            row.append("")
            continue
        if mean_std(full)[0] == 0:
            row.append("— (0 at 100%)")
            continue
        ratio = mean_std(cells["linear", b])[0] / mean_std(full)[0]
        row.append(f"{ratio:.1%}")
    table += (
        "| linear as a fraction of linear at 100% | " + " | ".join(row)
        + " |\n"
    )
    return table


def _setup(lines):
    first = lines[0]
    settings = first.get("settings", {})
    seeds = sorted({line["seed"] for line in lines})
    diverged = sum(line.get("status", "ok") != "ok" for line in lines)
    text = (
        f"Task: {settings.get('task', sweep_results.CLASSIFICATION)}, "
        f"data: {settings.get('dataset')}, model: {settings.get('model')}. "
        f"{len(lines)} runs ({diverged} diverged), seeds {seeds}; full "
        f"budget {first.get('full_budget_steps')} updates "
        f"({settings.get('full_epochs')} epochs of "
        f"{first.get('train_examples')} examples, batch "
        f"{settings.get('batch_size')}).\n\nSettings: `"
        + json.dumps(settings, sort_keys=True) + "`\n"
    )
    return text


def _gradient_norm_data(lines):
    measured = [line for line in lines if line.get("gradient_norm")]
    examples = measured[0].get("gradient_norm_examples")
    train = max(line.get("train_examples") or 0 for line in lines)
    whole = " (the whole training set)" if examples == train else ""
    examples = "an unrecorded number of" if examples is None else examples
    return (
        "Norm of the gradient of the mean training loss, measured on "
        f"{examples} training examples{whole}, unaugmented, BatchNorm in "
        "training mode; mean ± std over seeds.\n\n"
    )


def write_report(results_path, output_dir, field=None):
    """Writes `report.md` and `figures/*.png` for a results file.

    Args:
        results_path: Python str, a sweep's `results.jsonl`.
        output_dir: Python str, the folder of the report.
        field: Python str, the result field tabulated and plotted (e.g.
            "validation_accuracy"); None for the test value of the task's
            primary metric (`sweep_results.test_field`).

    Returns:
        The path of `report.md`.

    Raises:
        ValueError: if the results file is missing, empty or invalid, or
            no run has `field`.
    """
    lines = sweep_results.read_results(results_path)
    if not lines:
        raise ValueError(
            "Argument `results` must be a results file with at least one "
            f"run. Received: results={results_path!r}"
        )
    lines = sweep_results.unique_runs(lines, results_path)
    test = sweep_results.test_field(lines)
    # Diverged runs have no metrics: a sweep of only those still reports.
    if field and not any(field in line for line in lines):
        fields = sorted(
            {k for line in lines for k, v in line.items()
             if k.startswith(("test_", "validation_"))
             and isinstance(v, (int, float))}
        )
        raise ValueError(
            f"Argument `metric` must be a result field of the runs, one of "
            f"{fields}. Received: metric={field!r}"
        )
    field = field or test
    figures = report_plots.write_figures(
        lines, os.path.join(output_dir, "figures"), field
    )
    parts = [
        "# Budget sweep report\n\n",
        _setup(lines),
        f"\n## {field}: mean ± std over seeds (best per budget in bold)\n\n"
        "Columns: budget as a fraction of the full budget (updates).\n\n",
        metric_table(lines, field),
        "\n## The paper's claims on these numbers\n\n",
        claims_table(lines, field),
        f"\n## BatchNorm recalibration: {test} before → after\n\n",
        recalibration_table(lines, test),
    ]
    if final_gradient_norms(lines):
        parts += [
            "\n## Gradient norm at the end of the budget\n\n"
            + _gradient_norm_data(lines),
            gradient_norm_table(lines),
        ]
    parts.append("\n## Figures\n\n")
    for name in figures:
        parts.append(f"![{name}](figures/{name})\n\n")
    path = os.path.join(output_dir, "report.md")
    os.makedirs(output_dir, exist_ok=True)
    with open(path, "w") as f:
        f.write("".join(parts))
    return path


