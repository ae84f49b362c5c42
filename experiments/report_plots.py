"""The figures of a budget sweep report, drawn with matplotlib (Agg)."""

import os

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402  (after the backend)

from experiments import sweep_results as results_lib  # noqa: E402

_DPI = 90


def _colors(methods):
    """Schedules in tab10 colours, baselines in Dark2 (drawn dashed)."""
    schedules, others = plt.get_cmap("tab10"), plt.get_cmap("Dark2")
    colors = {}
    for i, m in enumerate(results_lib.SCHEDULES):
        colors[m] = schedules(i)
    rest = [m for m in methods if m not in colors]
    for i, m in enumerate(rest):
        colors[m] = others(i % 8)
    return colors


def _label(method):
    return results_lib.LABELS.get(method, method)


def _curve(lines, method, budget=None):
    """The learning-rate curve of a method's run (seed 0 when present)."""
    runs = [
        line
        for line in lines
        if line["method"] == method
        and line.get("learning_rate_curve")
        and (budget is None or line["budget"] == budget)
    ]
    if not runs:
        return None, None
    run = min(runs, key=lambda line: (-line["budget"], line["seed"]))
    progress, rates = zip(*run["learning_rate_curve"])
    return progress, rates


def plot_learning_rates(lines, path):
    """Learning rate against progress: schedules; baselines at a budget.

    Each curve is that of one run (seed 0 where there is one): the
    schedules' at their largest budget, the baselines' at the largest budget
    under 100%, with linear and step for reference.
    """
    methods = results_lib.ordered_methods(lines)
    colors = _colors(methods)
    budgets = sorted({line["budget"] for line in lines})
    short = [b for b in budgets if b < 1]
    # The largest budget under 100%: where cutting short shows the most.
    shown = short[-1] if short else budgets[-1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for method in methods:
        if method in results_lib.SCHEDULES:
            progress, rates = _curve(lines, method)
            if progress:
                axes[0].plot(progress, rates, color=colors[method],
                             label=_label(method))
        baseline = method not in results_lib.SCHEDULES
        if baseline or method in ("linear", "step"):
            progress, rates = _curve(lines, method, shown)
            if progress:
                axes[1].plot(progress, rates, color=colors[method],
                             linestyle="--" if baseline else "-",
                             label=_label(method))
    axes[0].set_title("schedules (the same shape at every budget)")
    axes[1].set_title(f"baselines at a {100 * shown:g}% budget")
    for ax in axes:
        ax.set_xlabel("progress through the budget, p = t / T")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[0].set_ylabel("learning rate")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def plot_metric_vs_budget(lines, path, field):
    """Mean ± std of `field` per method against budget; best per budget."""
    cells = results_lib.values_by_cell(lines, field)
    methods = results_lib.ordered_methods(lines)
    colors = _colors(methods)
    budgets = sorted({b for _, b in cells})
    fig, ax = plt.subplots(figsize=(9, 5))
    best = [
        max(results_lib.mean_std(cells[m, b])[0]
            for m in methods if (m, b) in cells)
        for b in budgets
    ]
    ax.plot(budgets, best, color="black", linewidth=5, alpha=0.2,
            label="best per budget")
    for method in methods:
        xs = [b for b in budgets if (method, b) in cells]
        stats = [results_lib.mean_std(cells[method, b]) for b in xs]
        if not xs:
            continue
        ax.errorbar(
            xs, [s[0] for s in stats], yerr=[s[1] for s in stats],
            color=colors[method], marker="o", markersize=3, capsize=2,
            linestyle="--" if method in results_lib.BASELINES else "-",
            label=_label(method),
        )
    ax.set_xscale("log")
    ax.set_xticks(budgets)
    ax.set_xticklabels([f"{100 * b:g}%" for b in budgets])
    ax.set_xlabel("budget (fraction of the full budget, log scale)")
    ax.set_ylabel(field.replace("_", " ") + " (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _seed_mean_curves(lines):
    """`{(method, budget): (progress, mean norm)}` over finished seeds."""
    points = {}
    for line in lines:
        if line.get("status", "ok") != "ok":
            continue
        for m in line.get("gradient_norm") or []:
            key = (line["method"], line["budget"])
            points.setdefault(key, {}).setdefault(
                round(m["progress"], 6), []
            ).append(m["gradient_norm"])
    return {
        key: (sorted(by_p), [sum(by_p[p]) / len(by_p[p]) for p in sorted(by_p)])
        for key, by_p in points.items()
    }


def plot_gradient_norms(lines, path):
    """Gradient norm against progress, and at the end of each budget."""
    curves = _seed_mean_curves(lines)
    final = results_lib.final_gradient_norms(lines)
    methods = [m for m in results_lib.ordered_methods(lines)
               if any(k[0] == m for k in curves)]
    colors = _colors(methods)
    budgets = sorted({b for _, b in curves})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method in methods:
        own = [b for b in budgets if (method, b) in curves]
        for budget in own:
            progress, norms = curves[method, budget]
            axes[0].plot(
                progress, norms, color=colors[method], marker=".",
                alpha=0.35 + 0.65 * (budgets.index(budget) + 1) / len(budgets),
                label=_label(method) if budget == own[-1] else None,
            )
        xs = [b for b in budgets if (method, b) in final]
        stats = [results_lib.mean_std(final[method, b]) for b in xs]
        axes[1].errorbar(
            xs, [s[0] for s in stats], yerr=[s[1] for s in stats],
            color=colors[method], marker="o", capsize=2, label=_label(method),
        )
    axes[0].set_title("through each budget (darker: larger budget)")
    axes[0].set_xlabel("progress through the budget, p = t / T")
    axes[1].set_title("at the end of each budget (p = 1)")
    axes[1].set_xscale("log")
    axes[1].set_xticks(budgets)
    axes[1].set_xticklabels([f"{100 * b:g}%" for b in budgets])
    axes[1].set_xlabel("budget (log scale)")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel("gradient norm of the training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def write_figures(lines, folder, field="test_accuracy"):
    """Writes the PNG figures for `lines` into `folder`; returns their names."""
    os.makedirs(folder, exist_ok=True)
    names = []
    if any(line.get("learning_rate_curve") for line in lines):
        plot_learning_rates(lines, os.path.join(folder, "learning_rates.png"))
        names.append("learning_rates.png")
    if results_lib.values_by_cell(lines, field):
        name = f"{field}_vs_budget.png"
        plot_metric_vs_budget(lines, os.path.join(folder, name), field)
        names.append(name)
    if results_lib.final_gradient_norms(lines):
        plot_gradient_norms(lines, os.path.join(folder, "gradient_norm.png"))
        names.append("gradient_norm.png")
    return names
