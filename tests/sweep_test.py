"""The sweep end to end on digits, its resumption, presets and errors."""

import os
from unittest import mock

import numpy as np
from absl import app
from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from experiments import sweep
from experiments import sweep_config
from experiments import sweep_data
from experiments import sweep_lib
from experiments import sweep_results

FLAGS = flags.FLAGS
# digits, CPU preset: 1,200 training examples / 128 = 10 batches per epoch;
# 2 epochs -> a full budget of 20 updates; 10% of it -> 2 updates.
SMOKE = dict(
    budgets=["0.1", "1"],
    schedules=["linear", "constant"],
    baselines=[],
    seeds=1,
    full_epochs=2.0,
    grad_norm_points=["0", "1"],
)


def setUpModule():
    if not FLAGS.is_parsed():
        FLAGS.mark_as_parsed()


def _config(output_dir, **overrides):
    settings = sweep_config.settings_for(
        "cpu",
        "digits",
        full_epochs=2.0,
        augment=False,
        grad_norm_points=(0.0, 1.0),
    )
    values = dict(
        settings=settings,
        output_dir=output_dir,
        budgets=(0.1, 1.0),
        schedules=("linear", "constant"),
        baselines=(),
        seeds=1,
        report=False,
    )
    values.update(overrides)
    return sweep_config.SweepConfig(**values)


def _fake_run(spec, config, data):
    return {
        "method": spec.method,
        "budget": spec.budget,
        "seed": spec.seed,
        "settings": config.settings.fingerprint(),
        "status": "ok",
        "budget_steps": data.full_budget.fraction(spec.budget).steps,
        "test_accuracy": 0.5,
        "seconds": 0.0,
    }


class SweepMainTest(parameterized.TestCase):
    def test_smoke_grid_writes_results_and_report_and_resumes(self):
        output_dir = self.create_tempdir().full_path
        with flagsaver.flagsaver(output_dir=output_dir, **SMOKE):
            sweep.main(["sweep"])
        path = os.path.join(output_dir, "results.jsonl")
        lines = sweep_results.read_results(path)
        self.assertEqual(
            [(r["method"], r["budget"], r["seed"]) for r in lines],
            [
                ("linear", 0.1, 0),
                ("constant", 0.1, 0),
                ("linear", 1.0, 0),
                ("constant", 1.0, 0),
            ],
        )
        for line in lines:
            with self.subTest(method=line["method"], budget=line["budget"]):
                expected_steps = 2 if line["budget"] == 0.1 else 20
                self.assertEqual(line["status"], "ok")
                self.assertEqual(line["full_budget_steps"], 20)
                self.assertEqual(line["budget_steps"], expected_steps)
                self.assertEqual(line["updates_done"], expected_steps)
                self.assertBetween(line["test_accuracy"], 0.0, 1.0)
                self.assertBetween(line["test_accuracy_no_recal"], 0.0, 1.0)
                self.assertBetween(line["validation_accuracy"], 0.0, 1.0)
                self.assertEqual(line["bn_recalibration_batches"], 10)
                self.assertEqual(
                    [
                        (m["progress"], m["updates"])
                        for m in line["gradient_norm"]
                    ],
                    [(0.0, 0), (1.0, expected_steps)],
                )
                self.assertEqual(line["gradient_norm_examples"], 1200)
                # The last update, T - 1: linear at 0.1 / T; constant 0.1.
                steps = expected_steps
                end = 0.1 / steps if line["method"] == "linear" else 0.1
                self.assertEqual(
                    line["learning_rate_curve"][-1][0], (steps - 1) / steps
                )
                self.assertAlmostEqual(
                    line["learning_rate_curve"][-1][1], end, places=6
                )
        report = open(os.path.join(output_dir, "report.md")).read()
        self.assertIn("| linear |", report)
        self.assertTrue(
            os.path.exists(
                os.path.join(output_dir, "figures", "gradient_norm.png")
            )
        )
        # The same command again trains nothing.
        with mock.patch.object(sweep_lib, "run_one") as run_one:
            with flagsaver.flagsaver(output_dir=output_dir, **SMOKE):
                sweep.main(["sweep"])
            run_one.assert_not_called()
        self.assertLen(sweep_results.read_results(path), 4)

    @parameterized.named_parameters(
        ("budget_zero", dict(budgets=["0", "1"]), "budgets"),
        ("budget_above_one", dict(budgets=["1.5"]), "budgets"),
        ("budget_not_a_number", dict(budgets=["tenth"]), "budgets"),
        ("budget_repeated", dict(budgets=["0.5", "0.5"]), "budgets"),
        ("budget_under_one_update", dict(budgets=["0.001"]), "budgets"),
        ("unknown_schedule", dict(schedules=["nope"]), "schedules"),
        ("unknown_baseline", dict(baselines=["sgd"]), "baselines"),
        ("grad_norm_point", dict(grad_norm_points=["2"]), "grad_norm_points"),
        (
            "grad_norm_method",
            dict(grad_norm_methods=["lineer"]),
            "grad_norm_methods",
        ),
        ("single_budget_flag", dict(budget=0.5), "--budgets"),
        ("single_seed_flag", dict(seed=3), "--seeds"),
        ("subset_too_big", dict(train_subset=5000), "train_subset"),
        ("bn_momentum_one", dict(bn_momentum=1.0), "bn_momentum"),
        (
            "missing_tfds_data",
            dict(dataset="cifar10", data_dir="/nonexistent"),
            "dataset",
        ),
    )
    def test_bad_flag_is_a_usage_error_before_training(self, values, name):
        output_dir = self.create_tempdir().full_path
        flag_values = dict(SMOKE, output_dir=output_dir)
        flag_values.update(values)
        with mock.patch.object(sweep_lib, "execute") as execute:
            with flagsaver.flagsaver(**flag_values):
                with self.assertRaisesRegex(app.UsageError, name):
                    sweep.main(["sweep"])
            execute.assert_not_called()
        self.assertFalse(
            os.path.exists(os.path.join(output_dir, "results.jsonl"))
        )

    @parameterized.named_parameters(
        ("seeds", "--seeds=0"),
        ("preset", "--preset=gpu"),
        ("model_width", "--model_width=0"),
    )
    def test_bad_flag_value_is_rejected_by_the_parser(self, argv):
        name, value = argv[2:].split("=")
        with self.assertRaisesRegex(flags.IllegalFlagValueError, name):
            FLAGS[name].parse(value)


class PresetTest(parameterized.TestCase):
    @parameterized.named_parameters(
        (
            "cpu_cifar",
            "cpu",
            "cifar10",
            dict(
                model="cnn",
                model_width=16,
                full_epochs=10.0,
                batch_size=128,
                learning_rate=0.1,
                weight_decay=5e-4,
                validation_size=5000,
                train_subset=10_000,
                augment=True,
                bn_momentum=0.99,
            ),
        ),
        (
            "full_cifar",
            "full",
            "cifar10",
            dict(
                model="cifar_resnet18",
                full_epochs=200.0,
                batch_size=128,
                learning_rate=0.1,
                weight_decay=5e-4,
                validation_size=5000,
                train_subset=None,
                augment=True,
            ),
        ),
        (
            "cpu_digits",
            "cpu",
            "digits",
            dict(model="cnn", validation_size=237, train_subset=None),
        ),
    )
    def test_preset_values(self, preset, dataset, expected):
        settings = sweep_config.settings_for(preset, dataset)
        for name, value in expected.items():
            with self.subTest(name=name):
                self.assertEqual(getattr(settings, name), value)

    def test_full_recipe_is_one_flag_away(self):
        with flagsaver.flagsaver(preset="full", dataset="cifar10"):
            config = sweep.config_from_flags()
        self.assertEqual(config.settings.model, "cifar_resnet18")
        self.assertEqual(config.settings.full_epochs, 200.0)
        self.assertEqual(config.budgets, sweep_config.DEFAULT_BUDGETS)
        self.assertEqual(config.seeds, 3)
        self.assertLen(config.schedules, 8)

    def test_given_flag_overrides_the_preset(self):
        with flagsaver.flagsaver(full_epochs=4.0, bn_recalibration_batches=0):
            settings = sweep.config_from_flags().settings
        self.assertEqual(settings.full_epochs, 4.0)
        self.assertEqual(settings.bn_recalibration_batches, 0)
        self.assertEqual(settings.batch_size, 128)

    @parameterized.named_parameters(
        ("preset", dict(preset="gpu"), "preset"),
        ("field", dict(preset="cpu", epochs=3), "overrides"),
    )
    def test_bad_settings_are_errors(self, kwargs, name):
        with self.assertRaisesRegex(ValueError, f"`{name}`"):
            sweep_config.settings_for(**kwargs)


class ResumeTest(parameterized.TestCase):
    def test_killed_sweep_reruns_only_the_missing_runs(self):
        output_dir = self.create_tempdir().full_path
        config = _config(output_dir)
        path = sweep_lib.run_sweep(config, run_fn=_fake_run)
        self.assertLen(sweep_results.read_results(path), 4)
        # A kill during the last run's write leaves a cut line.
        with open(path) as f:
            kept = f.readlines()[:3]
        with open(path, "w") as f:
            f.writelines(kept)
            f.write('{"method": "constant", "bud')
        run_fn = mock.Mock(side_effect=_fake_run)
        sweep_lib.run_sweep(config, run_fn=run_fn)
        self.assertEqual(
            [c.args[0] for c in run_fn.call_args_list],
            [sweep_lib.RunSpec("constant", 1.0, 0)],
        )
        lines = sweep_results.read_results(path)
        self.assertEqual(
            [(r["method"], r["budget"]) for r in lines],
            [
                ("linear", 0.1),
                ("constant", 0.1),
                ("linear", 1.0),
                ("constant", 1.0),
            ],
        )

    def test_grid_can_grow_in_the_same_folder(self):
        output_dir = self.create_tempdir().full_path
        sweep_lib.run_sweep(_config(output_dir), run_fn=_fake_run)
        run_fn = mock.Mock(side_effect=_fake_run)
        sweep_lib.run_sweep(_config(output_dir, seeds=2), run_fn=run_fn)
        self.assertEqual({c.args[0].seed for c in run_fn.call_args_list}, {1})
        self.assertLen(run_fn.call_args_list, 4)

    def test_other_settings_in_the_folder_are_an_error(self):
        output_dir = self.create_tempdir().full_path
        sweep_lib.run_sweep(_config(output_dir), run_fn=_fake_run)
        other = _config(output_dir)
        other = sweep_config.SweepConfig(
            **{
                **other.__dict__,
                "settings": sweep_config.settings_for(
                    "cpu",
                    "digits",
                    full_epochs=3.0,
                    augment=False,
                    grad_norm_points=(0.0, 1.0),
                ),
            }
        )
        with self.assertRaisesRegex(ValueError, "`output_dir`.*full_epochs"):
            sweep_lib.prepare(other)

    def test_plan_order_and_baselines_equal_to_step_at_full_budget(self):
        config = _config(
            "unused",
            schedules=("step",),
            baselines=("offshelf", "adam"),
            seeds=2,
        )
        sweep = sweep_lib.prepare(
            sweep_config.SweepConfig(
                **{
                    **config.__dict__,
                    "output_dir": self.create_tempdir().full_path,
                }
            )
        )
        self.assertEqual(
            [s.key for s in sweep.specs],
            [
                "step|0.1|0",
                "offshelf|0.1|0",
                "adam|0.1|0",
                "step|1|0",
                "adam|1|0",
                "step|0.1|1",
                "offshelf|0.1|1",
                "adam|0.1|1",
                "step|1|1",
                "adam|1|1",
            ],
        )


class DivergedRunTest(parameterized.TestCase):
    def test_non_finite_loss_is_recorded_and_the_sweep_goes_on(self):
        settings = sweep_config.settings_for(
            "cpu", "digits", full_epochs=2.0, learning_rate=1e12,
            grad_norm_points=(0.0, 1.0),
        )
        config = _config(
            self.create_tempdir().full_path, settings=settings,
            budgets=(1.0,), schedules=("constant",),
            grad_norm_methods=(),
        )
        with self.assertLogs(level="ERROR") as logs:
            path = sweep_lib.run_sweep(config)
        (line,) = sweep_results.read_results(path)
        self.assertEqual(line["status"], "diverged")
        self.assertRegex(line["error"], r"between update \d+ and update \d+")
        self.assertNotIn("test_accuracy", line)
        self.assertIn("diverged", "".join(logs.output))


class SameStartTest(parameterized.TestCase):
    def test_methods_of_a_seed_share_weights_and_batches(self):
        config = sweep_config.validate(_config("unused"))
        config = sweep_config.SweepConfig(
            **{
                **config.__dict__,
                "settings": sweep_config.settings_for(
                    "cpu", "digits", full_epochs=2.0, augment=True
                ),
            }
        )
        data = sweep_data.load_data(config.settings)

        def start(method, budget, seed):
            run = sweep_lib.build_run(
                sweep_lib.RunSpec(method, budget, seed), config, data
            )
            batches = [x.numpy() for x, _ in run.train.take(12)]
            return run.model.get_weights(), batches

        linear = start("linear", 0.1, 0)
        for other in (start("constant", 1.0, 0), start("adam", 0.5, 0)):
            for a, b in zip(linear[0], other[0]):
                np.testing.assert_array_equal(a, b)
            for a, b in zip(linear[1], other[1]):
                np.testing.assert_array_equal(a, b)
        seed1 = start("linear", 0.1, 1)
        self.assertFalse(np.array_equal(linear[0][0], seed1[0][0]))
        self.assertFalse(np.array_equal(linear[1][0], seed1[1][0]))
        subsample = start("subsample", 0.1, 0)
        np.testing.assert_array_equal(linear[0][0], subsample[0][0])
        # 10% of 1,200 examples: one batch of 120 per epoch.
        self.assertEqual(subsample[1][0].shape[0], 120)


if __name__ == "__main__":
    absltest.main()
