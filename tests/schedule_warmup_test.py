"""Schedule warmup, and schedules whose updates span several batches.

Conventions (lr0 = 0.1, T = 300, 0-based updates) are in `schedule_cases`.
"""

import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import schedules
from tests.schedule_cases import CLASSES
from tests.schedule_cases import FACTORS
from tests.schedule_cases import LR0
from tests.schedule_cases import NAMES
from tests.schedule_cases import TOTAL
from tests.schedule_cases import assert_close
from tests.schedule_cases import expected_rate
from tests.schedule_cases import rate_of
from tests.schedule_cases import step_forms

Budget = budgeted_keras.Budget


class WarmupTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # W = 30 warmup updates, then linear decay over D = 270.
        ("start", 0, 0.0),
        ("inside", 15, 0.05),
        ("last_warmup_update", 29, 0.1 * 29 / 30),
        ("end_of_warmup", 30, 0.1),
        ("half_decay", 165, 0.05),  # 30 + 135
        ("last_update", 299, 0.1 / 270),
        ("budget", 300, 0.0),
        ("past_budget", 3000, 0.0),
    )
    def test_linear_warmup(self, step, expected):
        for kwargs in (dict(warmup_steps=30), dict(warmup_fraction=0.1)):
            with self.subTest(**kwargs):
                schedule = schedules.Linear(LR0, TOTAL, **kwargs)
                self.assertEqual(schedule.warmup_steps, 30)
                self.assertEqual(schedule.decay_steps, 270)
                assert_close(self, rate_of(schedule, step), expected)

    @parameterized.named_parameters(
        # Drops at 30 + 270/3 = 120 and 30 + 2 * 270/3 = 210.
        ("step_119", schedules.Step, 119, 0.1),
        ("step_120", schedules.Step, 120, 0.01),
        ("step_209", schedules.Step, 209, 0.01),
        ("step_210", schedules.Step, 210, 0.001),
        ("cosine_half", schedules.Cosine, 165, 0.05),
        ("cosine_end", schedules.Cosine, 300, 0.0),
        ("htd_two_thirds", schedules.HyperbolicTangent, 210, 0.05),
    )
    def test_shapes_after_warmup(self, cls, step, expected):
        schedule = cls(LR0, TOTAL, warmup_steps=30)
        assert_close(self, rate_of(schedule, step), expected)

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_warmup_properties(self, name):
        warmup = 30
        schedule = CLASSES[name](LR0, TOTAL, warmup_steps=warmup)
        with self.subTest("zero_at_start"):
            self.assertEqual(rate_of(schedule, 0), 0.0)
        with self.subTest("ramp"):
            for step in (1, 10, 29):
                assert_close(self, rate_of(schedule, step), LR0 * step / warmup)
        with self.subTest("continuous_at_end_of_warmup"):
            at_end = rate_of(schedule, warmup)
            # The ramp's limit at t = W is lr0; the decay starts at lr0 f(0).
            assert_close(self, at_end, LR0, rtol=1e-4)
            self.assertLessEqual(
                abs(at_end - rate_of(schedule, warmup - 1)),
                LR0 / warmup + 1e-6,
            )
        with self.subTest("decay"):
            for step in (31, 120, 165, 210, 299):
                assert_close(
                    self,
                    rate_of(schedule, step),
                    expected_rate(name, step, warmup=warmup),
                )
        with self.subTest("end_exactly_at_budget"):
            end = LR0 * FACTORS[name](1.0)
            assert_close(self, rate_of(schedule, TOTAL), end)
            assert_close(self, rate_of(schedule, 10 * TOTAL), end)
            if name not in ("constant", "step"):
                self.assertGreater(rate_of(schedule, TOTAL - 1), end)

    @parameterized.named_parameters(
        ("half_rounds_up", 10, 0.05, 1),  # 0.5 update -> 1
        ("below_half", 10, 0.04, 0),  # 0.4 update -> 0
        ("quarter", 300, 0.25, 75),
        ("zero", 300, 0.0, 0),
    )
    def test_warmup_fraction_rounding(self, total, fraction, expected):
        schedule = schedules.Linear(LR0, total, warmup_fraction=fraction)
        self.assertEqual(schedule.warmup_steps, expected)

    def test_no_warmup_starts_at_lr0(self):
        for name in NAMES:
            with self.subTest(name=name):
                schedule = CLASSES[name](LR0, TOTAL, warmup_steps=0)
                assert_close(self, rate_of(schedule, 0), expected_rate(name, 0))

    @parameterized.named_parameters(
        ("steps_equal", dict(warmup_steps=300), "warmup_steps"),
        ("steps_longer", dict(warmup_steps=301), "warmup_steps"),
        # round(0.999 * 300) = 300 updates.
        (
            "fraction_rounds_to_budget",
            dict(warmup_fraction=0.999),
            "warmup_fraction",
        ),
    )
    def test_warmup_not_shorter_than_budget(self, kwargs, argument):
        for name in NAMES:
            with self.subTest(name=name):
                with self.assertRaisesRegex(ValueError, f"`{argument}`"):
                    CLASSES[name](LR0, TOTAL, **kwargs)


class GradientAccumulationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # Raw batch step s belongs to applied update floor(s / 2).
        ("batch_0", 0, 0.1),
        ("batch_1", 1, 0.1),
        ("batch_2", 2, 0.1 * (1 - 1 / 300)),
        ("batch_3", 3, 0.1 * (1 - 1 / 300)),
        ("batch_300", 300, 0.05),
        ("batch_301", 301, 0.05),
        ("batch_599", 599, 0.1 * (1 - 299 / 300)),
        ("batch_600", 600, 0.0),
        ("batch_6000", 6000, 0.0),
    )
    def test_linear_advances_every_second_batch(self, step, expected):
        budget = Budget(steps=300, gradient_accumulation_steps=2)
        schedule = schedules.Linear(LR0, budget)
        for form, value in step_forms(step):
            with self.subTest(form=form):
                assert_close(self, rate_of(schedule, value), expected)

    @parameterized.named_parameters(
        # Three batches per update: drops at updates 100 and 200.
        ("batch_299", 299, 0.1),
        ("batch_300", 300, 0.01),
        ("batch_599", 599, 0.01),
        ("batch_600", 600, 0.001),
    )
    def test_step_with_three_batches_per_update(self, step, expected):
        budget = Budget(steps=300, gradient_accumulation_steps=3)
        schedule = schedules.Step(LR0, budget)
        assert_close(
            self, rate_of(schedule, tf.constant(step, tf.int64)), expected
        )

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_pairs_of_batches_share_a_rate(self, name):
        budget = Budget(steps=TOTAL, gradient_accumulation_steps=2)
        schedule = CLASSES[name](LR0, budget)
        for update in (0, 50, 100, 199, 299):
            with self.subTest(update=update):
                expected = expected_rate(name, update)
                assert_close(self, rate_of(schedule, 2 * update), expected)
                assert_close(self, rate_of(schedule, 2 * update + 1), expected)

    def test_with_warmup(self):
        budget = Budget(steps=100, gradient_accumulation_steps=2)
        schedule = schedules.Linear(1.0, budget, warmup_steps=10)
        # Raw batch 11 -> update 5 of a 10-update warmup.
        assert_close(self, rate_of(schedule, 11), 0.5)
        # Raw batch 100 -> update 50 -> 40 of 90 decay updates.
        assert_close(self, rate_of(schedule, 100), 1.0 - 40 / 90)


if __name__ == "__main__":
    absltest.main()
