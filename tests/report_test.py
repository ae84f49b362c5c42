"""Tests of the sweep report on a fixed results file, cell by cell.

`tests/data/sweep_results.jsonl` holds 24 hand-made runs: methods constant,
step, linear, offshelf, subsample; budgets 10% (79 updates) and 100% (790);
seeds 0-2; seed 2 of constant at 10% diverged. The expected cells below were
worked out by hand from the values in that file (sample standard deviation,
n - 1 in the denominator).
"""

import json
import os
import pathlib

from absl import app
from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from experiments import report
from experiments import report_lib
from experiments import sweep_results

FLAGS = flags.FLAGS
FIXTURE = str(pathlib.Path(__file__).parent / "data" / "sweep_results.jsonl")
HEADER = "| {} | 10% (79) | 100% (790) |"


def setUpModule():
    if not FLAGS.is_parsed():
        FLAGS.mark_as_parsed()


def _rows(table):
    """`{first cell: [other cells]}` of a Markdown table's body."""
    lines = table.strip().split("\n")
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return lines[0], rows


class TablesTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.lines = sweep_results.read_results(FIXTURE)

    def test_metric_table_cell_by_cell(self):
        header, rows = _rows(report_lib.metric_table(self.lines))
        self.assertEqual(header, HEADER.format("method"))
        self.assertEqual(
            rows,
            {
                # 0.30, 0.36 (seed 2 diverged): mean 0.33, sd 0.0424.
                "constant": ["0.330 ± 0.042 (n=2)", "0.710 ± 0.010"],
                "step (budget-aware)": ["0.450 ± 0.050", "**0.850 ± 0.000**"],
                "linear": ["0.600 ± 0.100", "0.820 ± 0.020"],
                "off-the-shelf step, cut short": ["0.330 ± 0.030", "= step"],
                # 0.55, 0.62, 0.66: mean 0.61, sd 0.0557; best at 10%.
                "step on a subset (subsample)": [
                    "**0.610 ± 0.056**",
                    "= step",
                ],
            },
        )
        self.assertEqual(
            list(rows),
            [
                "constant",
                "step (budget-aware)",
                "linear",
                "off-the-shelf step, cut short",
                "step on a subset (subsample)",
            ],
        )

    def test_metric_table_of_chosen_methods_marks_their_best(self):
        _, rows = _rows(
            report_lib.metric_table(self.lines, methods=["linear", "step"])
        )
        self.assertEqual(
            rows,
            {
                "linear": ["**0.600 ± 0.100**", "0.820 ± 0.020"],
                "step (budget-aware)": ["0.450 ± 0.050", "**0.850 ± 0.000**"],
            },
        )

    def test_claims_table(self):
        header, rows = _rows(report_lib.claims_table(self.lines))
        self.assertEqual(header, HEADER.format("claim"))
        self.assertEqual(
            rows,
            {
                "linear − step, budgets ≤ 25%": ["+0.150 yes", ""],
                # Worst budget-aware at 10% is step, 0.45 - 0.33.
                "worst budget-aware − off-the-shelf, budgets < 100%": [
                    "+0.120 yes (worst: step (budget-aware); 2/2 ahead)",
                    "",
                ],
                "linear − subsample": ["-0.010 **no**", ""],
                # 0.60 / 0.82.
                "linear as a fraction of linear at 100%": ["73.2%", "100.0%"],
            },
        )

    def test_recalibration_table(self):
        _, rows = _rows(report_lib.recalibration_table(self.lines))
        self.assertEqual(
            rows,
            {
                "constant": ["0.230 → 0.330", "0.610 → 0.710"],
                "step (budget-aware)": ["0.350 → 0.450", "0.750 → 0.850"],
                "linear": ["0.200 → 0.600", "0.720 → 0.820"],
                "off-the-shelf step, cut short": ["0.230 → 0.330", "—"],
                "step on a subset (subsample)": ["0.510 → 0.610", "—"],
            },
        )

    def test_gradient_norm_table(self):
        _, rows = _rows(report_lib.gradient_norm_table(self.lines))
        self.assertEqual(
            rows,
            {
                "constant": ["2.100 ± 0.141 (n=2)", "1.600 ± 0.100"],
                "linear": ["0.600 ± 0.100", "0.100 ± 0.000"],
            },
        )

    @parameterized.named_parameters(
        ("one", [0.5], (0.5, 0.0)),
        ("two", [0.2, 0.4], (0.3, 0.1414213562)),
        ("three", [1.0, 2.0, 4.0], (7 / 3, 1.5275252317)),
    )
    def test_mean_std(self, values, expected):
        mean, std = sweep_results.mean_std(values)
        self.assertAlmostEqual(mean, expected[0])
        self.assertAlmostEqual(std, expected[1], places=8)


class FilesTest(parameterized.TestCase):
    def test_write_report_writes_tables_and_figures(self):
        output_dir = self.create_tempdir().full_path
        path = report_lib.write_report(FIXTURE, output_dir)
        text = pathlib.Path(path).read_text()
        self.assertIn(
            report_lib.metric_table(sweep_results.read_results(FIXTURE)), text
        )
        self.assertIn("24 runs (1 diverged)", text)
        self.assertIn(
            "on 1000 training examples (the whole training set)", text
        )
        for name in (
            "learning_rates.png",
            "test_accuracy_vs_budget.png",
            "gradient_norm.png",
        ):
            with self.subTest(name=name):
                self.assertIn(f"(figures/{name})", text)
                figure = pathlib.Path(output_dir, "figures", name)
                self.assertEqual(figure.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
                self.assertLess(figure.stat().st_size, 300_000)

    def test_repair_removes_a_cut_last_line_only(self):
        path = os.path.join(self.create_tempdir().full_path, "r.jsonl")
        with open(path, "w") as f:
            f.write('{"a": 1}\n{"b": 2}\n{"c": ')
        sweep_results.repair_results(path)
        self.assertEqual(sweep_results.read_results(path), [{"a": 1}, {"b": 2}])

    def test_invalid_line_is_an_error_naming_it(self):
        path = os.path.join(self.create_tempdir().full_path, "r.jsonl")
        with open(path, "w") as f:
            f.write('{"a": 1}\nnot json\n')
        with self.assertRaisesRegex(ValueError, "line 2"):
            sweep_results.read_results(path)

    def test_main_writes_the_report(self):
        output_dir = self.create_tempdir().full_path
        with flagsaver.flagsaver(results=FIXTURE, report_dir=output_dir):
            report.main(["report"])
        self.assertTrue(os.path.exists(os.path.join(output_dir, "report.md")))

    @parameterized.named_parameters(
        ("missing_flag", None, "--results"),
        ("missing_file", "/nonexistent/results.jsonl", "results"),
    )
    def test_bad_results_flag_is_a_usage_error(self, value, message):
        with flagsaver.flagsaver(results=value):
            with self.assertRaisesRegex(app.UsageError, message):
                report.main(["report"])

    def test_empty_results_file_is_a_usage_error(self):
        path = os.path.join(self.create_tempdir().full_path, "r.jsonl")
        open(path, "w").close()
        with flagsaver.flagsaver(results=path):
            with self.assertRaisesRegex(app.UsageError, "at least one run"):
                report.main(["report"])


def _as_task_results(path, metric):
    """The fixture's runs as runs of a task whose primary metric is
    `metric`: every `*accuracy*` field renamed, the metric named."""
    lines = []
    for line in sweep_results.read_results(FIXTURE):
        line = {k.replace("accuracy", metric): v for k, v in line.items()}
        line["metric"] = metric
        line["settings"] = dict(line["settings"], task="segmentation")
        lines.append(json.dumps(line))
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path


class TaskMetricTest(parameterized.TestCase):
    def test_test_field_is_the_primary_metric_of_the_runs(self):
        self.assertEqual(
            sweep_results.test_field(sweep_results.read_results(FIXTURE)),
            "test_accuracy",
        )
        path = os.path.join(self.create_tempdir().full_path, "r.jsonl")
        lines = sweep_results.read_results(_as_task_results(path, "box_map"))
        self.assertEqual(sweep_results.test_field(lines), "test_box_map")
        with self.assertRaisesRegex(ValueError, "several metrics"):
            sweep_results.test_field(
                lines + [dict(lines[0], metric="mean_iou")]
            )

    def test_report_of_a_task_tabulates_its_metric(self):
        output_dir = self.create_tempdir().full_path
        path = _as_task_results(
            os.path.join(output_dir, "results.jsonl"), "mean_iou"
        )
        text = pathlib.Path(report_lib.write_report(path, output_dir))
        text = text.read_text()
        lines = sweep_results.read_results(path)
        # Same numbers as the classification fixture, under the new name.
        self.assertEqual(
            report_lib.metric_table(lines, "test_mean_iou"),
            report_lib.metric_table(
                sweep_results.read_results(FIXTURE), "test_accuracy"
            ),
        )
        self.assertIn("## test_mean_iou: mean ± std", text)
        self.assertIn("recalibration: test_mean_iou before → after", text)
        self.assertIn("| linear | 0.200 → 0.600 | 0.720 → 0.820 |", text)
        self.assertIn("Task: segmentation", text)
        self.assertIn("(figures/test_mean_iou_vs_budget.png)", text)

    def test_metric_no_run_has_is_a_usage_error(self):
        output_dir = self.create_tempdir().full_path
        with flagsaver.flagsaver(
            results=FIXTURE, report_dir=output_dir, metric="test_mean_iou"
        ):
            with self.assertRaisesRegex(app.UsageError, "`metric`"):
                report.main(["report"])
        self.assertFalse(os.path.exists(os.path.join(output_dir, "report.md")))


def _write(path, lines):
    pathlib.Path(path).write_text(
        "".join(json.dumps(line) + "\n" for line in lines)
    )
    return path


class LossAndDuplicatesTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        # The fixture with a loss of 1 - accuracy: every ranking reverses.
        self.lines = [
            dict(line, test_loss=1.0 - line["test_accuracy"])
            if "test_accuracy" in line
            else line
            for line in sweep_results.read_results(FIXTURE)
        ]

    def test_lowest_loss_is_best(self):
        _, rows = _rows(report_lib.metric_table(self.lines, "test_loss"))
        self.assertEqual(rows["step (budget-aware)"][1], "**0.150 ± 0.000**")
        self.assertEqual(
            rows["step on a subset (subsample)"][0], "**0.390 ± 0.056**"
        )
        self.assertEqual(rows["linear"], ["0.400 ± 0.100", "0.180 ± 0.020"])

    def test_loss_claims_hold_when_the_loss_is_lower(self):
        _, rows = _rows(report_lib.claims_table(self.lines, "test_loss"))
        self.assertEqual(
            rows,
            {
                # 0.40 - 0.55 for linear - step.
                "linear − step, budgets ≤ 25%": ["-0.150 yes", ""],
                # The worst budget-aware loss at 10% is step's 0.55, the
                # off-the-shelf one 0.67.
                "worst budget-aware − off-the-shelf, budgets < 100%": [
                    "-0.120 yes (worst: step (budget-aware); 2/2 ahead)",
                    "",
                ],
                "linear − subsample": ["+0.010 **no**", ""],
                # 0.40 / 0.18.
                "linear as a fraction of linear at 100%": ["222.2%", "100.0%"],
            },
        )

    def test_runs_written_twice_count_once(self):
        root = self.create_tempdir().full_path
        lines = sweep_results.read_results(FIXTURE)
        path = _write(os.path.join(root, "r.jsonl"), lines + lines)
        self.assertEqual(
            sweep_results.unique_runs(sweep_results.read_results(path)),
            lines,
        )
        report = pathlib.Path(report_lib.write_report(path, root))
        self.assertIn(report_lib.metric_table(lines), report.read_text())

    def test_runs_of_other_settings_are_an_error(self):
        root = self.create_tempdir().full_path
        lines = sweep_results.read_results(FIXTURE)
        other = dict(lines[0], settings=dict(lines[0]["settings"], seed=9))
        path = _write(os.path.join(root, "r.jsonl"), lines + [other])
        with self.assertRaisesRegex(
            ValueError, "`results`.*differing in: seed"
        ):
            report_lib.write_report(path, root)

    def test_report_of_diverged_runs_only(self):
        root = self.create_tempdir().full_path
        lines = [
            {k: v for k, v in line.items() if not k.startswith("test_")}
            | {"status": "diverged"}
            for line in sweep_results.read_results(FIXTURE)
        ]
        path = _write(os.path.join(root, "r.jsonl"), lines)
        text = pathlib.Path(report_lib.write_report(path, root)).read_text()
        self.assertIn("24 runs (24 diverged)", text)
        self.assertIn("| linear | diverged | diverged |", text)

    def test_a_second_sweep_in_a_folder_is_refused(self):
        root = self.create_tempdir().full_path
        with sweep_results.exclusive(root):
            with self.assertRaisesRegex(
                sweep_results.SweepRunningError, "`output_dir`"
            ):
                with sweep_results.exclusive(root):
                    pass
        with sweep_results.exclusive(root):  # Released.
            pass


if __name__ == "__main__":
    absltest.main()
