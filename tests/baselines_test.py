"""The baselines' learning rates and optimizers, against hand-worked values."""

import math

import keras
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras as bk
from experiments import baselines


class BaselinesTest(parameterized.TestCase):
    def _rates(self, method, fraction, steps):
        full = bk.Budget(steps=300)
        budget = full.fraction(fraction)
        rate, optimizer = baselines.learning_rate_and_optimizer(
            method,
            budget=budget,
            full_budget=full,
            learning_rate=0.1,
            weight_decay=5e-4,
        )
        return [float(keras.ops.convert_to_numpy(rate(t))) for t in steps], (
            optimizer
        )

    def test_sgdr_does_not_restart_at_the_end_of_a_budget(self):
        # 395 updates: the cycles end at 395/7, 3 * 395/7 and 395 (a first
        # cycle rounded to 56 would restart at update 392).
        full = bk.Budget(steps=790)
        rate, _ = baselines.learning_rate_and_optimizer(
            "sgdr", budget=full.fraction(0.5), full_budget=full,
            learning_rate=0.1, weight_decay=5e-4,
        )
        last = [float(rate(t)) for t in range(388, 395)]
        self.assertTrue(all(r < 1e-3 for r in last), last)
        # The third cycle starts (at full rate) at 3 * 395 / 7 = 169.3.
        self.assertLess(float(rate(169)), 1e-3)
        self.assertGreater(float(rate(170)), 0.0999)

    @parameterized.named_parameters(
        # Full budget 300 updates: drops at 100 and 200 of the FULL budget.
        # A 25% budget (75 updates) never decays; a 50% budget (150) drops
        # once, at 100; past the budget the rate holds.
        (
            "offshelf_quarter",
            "offshelf",
            0.25,
            (0, 74, 75, 500),
            (0.1, 0.1, 0.1, 0.1),
        ),
        (
            "offshelf_half",
            "offshelf",
            0.5,
            (99, 100, 149, 400),
            (0.1, 0.01, 0.01, 0.01),
        ),
        # Step over the run's own budget (150): drops at 50 and 100.
        ("subsample_half", "subsample", 0.5, (49, 50, 100), (0.1, 0.01, 0.001)),
        # Budget 70 -> cycles of 10, 20, 40 updates: restarts at 10 and 30,
        # the third cycle at 50 is half way, cos(pi/2) -> 0.05; the last
        # update, 69, is 39/40 of the way down.
        (
            "sgdr",
            "sgdr",
            70 / 300,
            (0, 5, 10, 30, 50, 69),
            (
                0.1,
                0.05,
                0.1,
                0.1,
                0.05,
                0.05 * (1 + math.cos(math.pi * 39 / 40)),
            ),
        ),
    )
    def test_learning_rates(self, method, fraction, steps, expected):
        rates, optimizer = self._rates(method, fraction, steps)
        self.assertIsInstance(optimizer, keras.optimizers.SGD)
        for step, rate, want in zip(steps, rates, expected):
            with self.subTest(step=step):
                self.assertAlmostEqual(rate, want, places=6)

    @parameterized.named_parameters(
        ("adam", "adam", keras.optimizers.Adam),
        ("adamw", "adamw", keras.optimizers.AdamW),
    )
    def test_adaptive_baselines_use_their_usual_rate(self, method, kind):
        full = bk.Budget(steps=300)
        rate, optimizer = baselines.learning_rate_and_optimizer(
            method,
            budget=full.fraction(0.5),
            full_budget=full,
            learning_rate=0.1,
            weight_decay=5e-4,
        )
        self.assertIsInstance(optimizer, kind)
        self.assertEqual(rate, 1e-3)
        self.assertAlmostEqual(float(optimizer.learning_rate), 1e-3)

    def test_one_cycle(self):
        schedule = baselines.OneCycle(0.1, budget=100)
        # Rises from 0.1/25 to 0.1 at update 30 (cosine), then anneals to
        # 0.1/25/1e4 at 100: at 15, (0.004 + 0.1) / 2; at 65, half way down.
        end = 0.1 / 25 / 1e4
        for step, want in (
            (0, 0.004),
            (15, 0.052),
            (30, 0.1),
            (65, (0.1 + end) / 2),
            (100, end),
            (1000, end),
        ):
            with self.subTest(step=step):
                self.assertAlmostEqual(float(schedule(step)), want, places=6)
        config = keras.saving.serialize_keras_object(schedule)
        restored = keras.saving.deserialize_keras_object(config)
        self.assertAlmostEqual(float(restored(65)), float(schedule(65)))

    @parameterized.named_parameters(
        ("peak", dict(peak_fraction=1.0), "peak_fraction"),
        ("div", dict(div_factor=0.0), "div_factor"),
    )
    def test_one_cycle_bad_arguments(self, kwargs, name):
        with self.assertRaisesRegex(ValueError, f"`{name}`"):
            baselines.OneCycle(0.1, budget=100, **kwargs)

    @parameterized.named_parameters(
        ("tenth", 1200, 0.1, 120),
        ("rounds_half_up", 45, 0.1, 5),
        ("at_least_one", 50, 0.001, 1),
    )
    def test_subsample_size(self, train_size, fraction, expected):
        self.assertEqual(
            baselines.subsample_size(train_size, fraction), expected
        )
        indices = baselines.subsample_indices(train_size, fraction, seed=0)
        self.assertLen(set(indices.tolist()), expected)
        self.assertTrue(all(0 <= i < train_size for i in indices))

    def test_learning_rate_curve(self):
        curve = baselines.learning_rate_curve(
            bk.schedules.Linear(0.1, budget=4), bk.Budget(steps=4)
        )
        self.assertEqual([p for p, _ in curve], [0.0, 0.25, 0.5, 0.75])
        for (_, rate), want in zip(curve, (0.1, 0.075, 0.05, 0.025)):
            self.assertTrue(math.isclose(rate, want, abs_tol=1e-7))
        self.assertEqual(
            baselines.learning_rate_curve(1e-3, bk.Budget(steps=2)),
            [[0.0, 1e-3], [0.5, 1e-3]],
        )
        # 1000 updates, 3 points: 0, round(499.5) = 500, 999.
        curve = baselines.learning_rate_curve(
            0.1, bk.Budget(steps=1000), points=3
        )
        self.assertEqual([p for p, _ in curve], [0.0, 0.5, 0.999])


if __name__ == "__main__":
    absltest.main()
