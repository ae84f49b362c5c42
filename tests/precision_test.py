"""Mixed precision and gradient accumulation in a whole budgeted run."""

import keras
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import schedules
from experiments import config as config_lib
from experiments import train_lib


def _run(tempdir, **overrides):
    # Digits: 45 batches of 32 per epoch; 2 full epochs are 90 batches.
    values = dict(
        budget=0.5,
        full_epochs=2,
        model="cnn",
        verbose=0,
        output_dir=tempdir,
    )
    values.update(overrides)
    experiment = train_lib.prepare(config_lib.TrainConfig(**values))
    return experiment, train_lib.train_and_evaluate(experiment)


class MixedPrecisionTest(parameterized.TestCase):
    @parameterized.parameters(
        ("float16", "mixed_float16", True),
        ("bfloat16", "mixed_bfloat16", False),
    )
    def test_budget_and_schedule_under_mixed_precision(
        self, name, policy, loss_scaling
    ):
        experiment, result = _run(
            self.create_tempdir().full_path, mixed_precision=name
        )
        model, optimizer = experiment.model, experiment.model.optimizer
        self.assertEqual(model.dtype_policy.name, policy)
        # The global policy is left as it was.
        self.assertEqual(keras.config.dtype_policy().name, "float32")
        self.assertEqual(
            isinstance(optimizer, keras.optimizers.LossScaleOptimizer),
            loss_scaling,
        )
        # 45 updates; a skipped float16 update would not count, so the run
        # may take more batches but never fewer updates.
        self.assertEqual(result["budget_steps"], 45)
        self.assertEqual(result["updates_done"], 45)
        # The learning rate reads through the (loss-scale) optimizer as
        # float32 and is the schedule's end value, 0 for linear decay.
        rate = optimizer.learning_rate
        self.assertEqual(keras.backend.standardize_dtype(rate.dtype), "float32")
        self.assertEqual(float(rate), 0.0)
        self.assertIsInstance(
            getattr(optimizer, "inner_optimizer", optimizer)._learning_rate,
            schedules.Linear,
        )
        self.assertGreater(result["test_accuracy"], 0.5)


class GradientAccumulationTest(absltest.TestCase):
    def test_budget_counts_applied_updates(self):
        experiment, result = _run(
            self.create_tempdir().full_path, grad_accum=3, model="mlp"
        )
        # 90 full batches / 3 per update = 30 updates; half is 15 updates,
        # spread over 45 batches.
        self.assertEqual(result["full_budget_steps"], 30)
        self.assertEqual(result["budget_steps"], 15)
        self.assertEqual(result["budget_batches"], 45)
        self.assertEqual(result["updates_done"], 15)
        optimizer = experiment.model.optimizer
        self.assertEqual(optimizer.gradient_accumulation_steps, 3)
        self.assertEqual(int(optimizer._iterations.numpy()), 45)
        # The schedule advanced once per applied update: the budget is used.
        self.assertEqual(result["history"]["budget_used"][-1], 1.0)
        self.assertEqual(float(optimizer.learning_rate), 0.0)


if __name__ == "__main__":
    absltest.main()
