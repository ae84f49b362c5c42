"""Tests for `budgeted_keras.budget`: durations become applied updates.

Every expected number below was worked out by hand from the units (batches
per epoch, examples per batch, batches per accumulated update).
"""

import json

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import budget as budget_lib

Budget = budgeted_keras.Budget


def _batched_dataset(num_batches, batch_size=2):
    """A batched dataset of exactly `num_batches` batches (known length)."""
    return tf.data.Dataset.range(num_batches * batch_size).batch(batch_size)


class _Sized:
    """An object with `len()`, like a `keras.utils.PyDataset`."""

    def __init__(self, length):
        self._length = length

    def __len__(self):
        return self._length


class BudgetConversionTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("steps", dict(steps=300), 300),
        ("steps_integral_float", dict(steps=300.0), 300),
        ("epochs", dict(epochs=2, steps_per_epoch=10), 20),
        ("fractional_epochs", dict(epochs=2.5, steps_per_epoch=10), 25),
        # 0.25 x 10 = 2.5 batches; halves round up.
        ("fractional_epochs_half", dict(epochs=0.25, steps_per_epoch=10), 3),
        # 0.33 x 10 = 3.3 batches -> 3.
        ("fractional_epochs_down", dict(epochs=0.33, steps_per_epoch=10), 3),
        ("examples", dict(examples=1000, batch_size=100), 10),
        # 1001 examples in batches of 100: 10 full batches and a last one.
        ("examples_ceil", dict(examples=1001, batch_size=100), 11),
        ("examples_fewer_than_batch", dict(examples=5, batch_size=100), 1),
        ("sized_object", dict(epochs=2, dataset=_Sized(4)), 8),
    )
    def test_steps(self, kwargs, expected):
        self.assertEqual(Budget(**kwargs).steps, expected)

    @parameterized.named_parameters(
        ("three_epochs", 3, 21),
        ("one_epoch", 1, 7),
        ("half_epoch", 0.5, 4),  # 3.5 batches, half rounds up.
    )
    def test_dataset_of_seven_batches(self, epochs, expected):
        dataset = _batched_dataset(7)
        self.assertEqual(Budget(epochs=epochs, dataset=dataset).steps, expected)

    def test_dataset_with_asserted_cardinality(self):
        dataset = _batched_dataset(7).filter(lambda x: True)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(7))
        self.assertEqual(Budget(epochs=3, dataset=dataset).steps, 21)

    def test_fraction_of_steps(self):
        self.assertEqual(Budget(steps=300).fraction(0.5).steps, 150)

    @parameterized.named_parameters(
        ("quarter_of_90_epochs", 9000, 0.25, 2250),
        ("one_percent", 9000, 0.01, 90),
        ("half_rounds_up", 5, 0.5, 3),  # 2.5 -> 3
        ("below_half_rounds_down", 10, 0.34, 3),  # 3.4 -> 3
        ("longer_budget", 100, 1.5, 150),
        ("whole", 7, 1, 7),
    )
    def test_fraction(self, steps, fraction, expected):
        self.assertEqual(Budget(steps=steps).fraction(fraction).steps, expected)

    def test_fraction_of_epochs(self):
        full = Budget(epochs=90, steps_per_epoch=100)
        self.assertEqual(full.fraction(0.25).steps, 2250)

    def test_fraction_keeps_accumulation(self):
        full = Budget(steps=100, gradient_accumulation_steps=4)
        half = full.fraction(0.5)
        self.assertEqual(half.steps, 50)
        self.assertEqual(half.gradient_accumulation_steps, 4)
        self.assertEqual(half.batches, 200)

    def test_fraction_returns_new_budget(self):
        full = Budget(steps=300)
        full.fraction(0.5)
        self.assertEqual(full.steps, 300)


class BudgetAccumulationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # `steps` counts applied updates directly.
        ("steps", dict(steps=5), 2, 5, 10),
        # 10 batches / 2 per update.
        ("epochs_even", dict(epochs=1, steps_per_epoch=10), 2, 5, 10),
        # 10 batches / 3 per update: 3 updates, the 10th batch is dropped.
        ("epochs_floor", dict(epochs=1, steps_per_epoch=10), 3, 3, 9),
        # ceil(1000 / 100) = 10 batches / 4 -> 2 updates of 4 batches.
        ("examples", dict(examples=1000, batch_size=100), 4, 2, 8),
        # ceil(1001 / 100) = 11 batches / 2 -> 5 updates.
        ("examples_ceil", dict(examples=1001, batch_size=100), 2, 5, 10),
        ("dataset", dict(epochs=3, dataset=_batched_dataset(7)), 2, 10, 20),
        ("no_accumulation", dict(epochs=3, steps_per_epoch=7), 1, 21, 21),
    )
    def test_steps_and_batches(self, kwargs, accumulation, steps, batches):
        budget = Budget(**kwargs, gradient_accumulation_steps=accumulation)
        self.assertEqual(budget.steps, steps)
        self.assertEqual(budget.batches, batches)
        self.assertEqual(budget.gradient_accumulation_steps, accumulation)

    def test_default_accumulation_is_one(self):
        budget = Budget(steps=12)
        self.assertEqual(budget.gradient_accumulation_steps, 1)
        self.assertEqual(budget.batches, 12)


class BudgetEpochsForTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("exact", dict(steps=20), 10, 2),
        ("partial_last_epoch", dict(steps=25), 10, 3),
        ("less_than_an_epoch", dict(steps=3), 10, 1),
        ("one_batch_epochs", dict(steps=7), 1, 7),
        # 5 updates x 2 batches = 10 batches in epochs of 4: ceil(10/4) = 3.
        (
            "accumulation",
            dict(steps=5, gradient_accumulation_steps=2),
            4,
            3,
        ),
    )
    def test_epochs_for(self, kwargs, steps_per_epoch, expected):
        budget = Budget(**kwargs)
        self.assertEqual(budget.epochs_for(steps_per_epoch), expected)

    @parameterized.named_parameters(
        ("zero", 0), ("negative", -3), ("fractional", 2.5), ("none", None)
    )
    def test_epochs_for_bad_steps_per_epoch(self, steps_per_epoch):
        with self.assertRaisesRegex(ValueError, "steps_per_epoch"):
            Budget(steps=10).epochs_for(steps_per_epoch)


class BudgetProgressAndTextTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("start", 0, 0.0), ("half", 150, 0.5), ("end", 300, 1.0)
    )
    def test_progress(self, updates, expected):
        self.assertAlmostEqual(Budget(steps=300).progress(updates), expected)

    def test_description_names_source(self):
        budget = Budget(epochs=2, steps_per_epoch=10)
        self.assertIn("20 updates", budget.description)
        self.assertIn("epochs=2", budget.description)

    @parameterized.named_parameters(
        ("plain", Budget(steps=3), "Budget(steps=3)"),
        (
            "accumulation",
            Budget(steps=3, gradient_accumulation_steps=2),
            "Budget(steps=3, gradient_accumulation_steps=2)",
        ),
    )
    def test_repr(self, budget, expected):
        self.assertEqual(repr(budget), expected)


class BudgetSerializationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("steps", dict(steps=300)),
        ("epochs", dict(epochs=2, steps_per_epoch=10)),
        ("examples", dict(examples=1001, batch_size=100)),
        ("dataset", dict(epochs=3, dataset=_batched_dataset(7))),
        (
            "accumulation",
            dict(epochs=1, steps_per_epoch=10, gradient_accumulation_steps=3),
        ),
    )
    def test_config_round_trip(self, kwargs):
        budget = Budget(**kwargs)
        config = json.loads(json.dumps(budget.get_config()))
        restored = Budget.from_config(config)
        self.assertEqual(restored, budget)
        self.assertEqual(hash(restored), hash(budget))
        self.assertEqual(restored.steps, budget.steps)
        self.assertEqual(restored.batches, budget.batches)
        self.assertEqual(
            restored.gradient_accumulation_steps,
            budget.gradient_accumulation_steps,
        )
        self.assertEqual(restored.get_config(), budget.get_config())

    def test_config_contents(self):
        budget = Budget(
            epochs=1, steps_per_epoch=10, gradient_accumulation_steps=3
        )
        self.assertEqual(
            budget.get_config(),
            {"steps": 3, "gradient_accumulation_steps": 3},
        )

    def test_equality(self):
        self.assertEqual(Budget(steps=20), Budget(epochs=2, steps_per_epoch=10))
        self.assertEqual(
            Budget(steps=10), Budget(examples=1000, batch_size=100)
        )
        self.assertNotEqual(Budget(steps=20), Budget(steps=21))
        self.assertNotEqual(
            Budget(steps=20),
            Budget(steps=20, gradient_accumulation_steps=2),
        )
        self.assertNotEqual(Budget(steps=20), 20)
        self.assertLen({Budget(steps=20), Budget(steps=20)}, 1)

    @parameterized.named_parameters(
        ("budget", Budget(steps=7), 7),
        ("int", 7, 7),
        ("config", {"steps": 7, "gradient_accumulation_steps": 1}, 7),
    )
    def test_as_budget(self, value, expected_steps):
        self.assertEqual(budget_lib.as_budget(value).steps, expected_steps)

    @parameterized.named_parameters(
        ("zero", 0),
        ("negative", -1),
        ("float", 2.0),
        ("bool", True),
        ("string", "10"),
        ("none", None),
    )
    def test_as_budget_bad(self, value):
        with self.assertRaisesRegex(ValueError, "`budget`"):
            budget_lib.as_budget(value)


_NAN = float("nan")
_INF = float("inf")


class BudgetBadInputTest(parameterized.TestCase):
    """Each bad input raises ValueError naming the argument at fault."""

    @parameterized.named_parameters(
        (
            "steps_and_epochs",
            dict(steps=10, epochs=1, steps_per_epoch=5),
            "epochs",
        ),
        (
            "steps_and_examples",
            dict(steps=10, examples=5, batch_size=1),
            "examples",
        ),
        ("no_unit", dict(), "steps"),
        ("steps_zero", dict(steps=0), "steps"),
        ("steps_negative", dict(steps=-1), "steps"),
        ("steps_fractional", dict(steps=1.5), "steps"),
        ("steps_nan", dict(steps=_NAN), "steps"),
        ("steps_inf", dict(steps=_INF), "steps"),
        ("steps_bool", dict(steps=True), "steps"),
        ("steps_string", dict(steps="10"), "steps"),
        ("epochs_zero", dict(epochs=0, steps_per_epoch=10), "epochs"),
        ("epochs_negative", dict(epochs=-1, steps_per_epoch=10), "epochs"),
        ("epochs_nan", dict(epochs=_NAN, steps_per_epoch=10), "epochs"),
        ("epochs_inf", dict(epochs=_INF, steps_per_epoch=10), "epochs"),
        ("epochs_alone", dict(epochs=2), "steps_per_epoch"),
        (
            "epochs_with_both_lengths",
            dict(epochs=2, steps_per_epoch=7, dataset=_batched_dataset(7)),
            "dataset",
        ),
        (
            "steps_per_epoch_zero",
            dict(epochs=2, steps_per_epoch=0),
            "steps_per_epoch",
        ),
        (
            "steps_per_epoch_fractional",
            dict(epochs=2, steps_per_epoch=2.5),
            "steps_per_epoch",
        ),
        (
            "steps_per_epoch_without_epochs",
            dict(steps=10, steps_per_epoch=5),
            "steps_per_epoch",
        ),
        (
            "dataset_without_epochs",
            dict(steps=10, dataset=_batched_dataset(7)),
            "dataset",
        ),
        (
            "batch_size_without_examples",
            dict(steps=10, batch_size=32),
            "batch_size",
        ),
        ("examples_without_batch_size", dict(examples=1000), "batch_size"),
        ("examples_zero", dict(examples=0, batch_size=10), "examples"),
        ("examples_nan", dict(examples=_NAN, batch_size=10), "examples"),
        ("batch_size_zero", dict(examples=100, batch_size=0), "batch_size"),
        (
            "batch_size_fractional",
            dict(examples=100, batch_size=0.5),
            "batch_size",
        ),
        (
            "dataset_unknown_cardinality",
            dict(epochs=1, dataset=_batched_dataset(7).filter(lambda x: True)),
            "dataset",
        ),
        (
            "dataset_infinite",
            dict(epochs=1, dataset=_batched_dataset(7).repeat()),
            "dataset",
        ),
        (
            "dataset_empty",
            dict(epochs=1, dataset=tf.data.Dataset.range(0).batch(2)),
            "dataset",
        ),
        ("dataset_without_length", dict(epochs=1, dataset=object()), "dataset"),
        # Containers of examples: their len() is not batches per epoch.
        ("dataset_array", dict(epochs=1, dataset=np.zeros((8, 3))), "dataset"),
        ("dataset_tensor", dict(epochs=1, dataset=tf.zeros((8, 3))), "dataset"),
        ("dataset_list", dict(epochs=1, dataset=[1, 2, 3]), "dataset"),
        ("dataset_dict", dict(epochs=1, dataset={"x": [1, 2]}), "dataset"),
        (
            "accumulation_zero",
            dict(steps=10, gradient_accumulation_steps=0),
            "gradient_accumulation_steps",
        ),
        (
            "accumulation_fractional",
            dict(steps=10, gradient_accumulation_steps=1.5),
            "gradient_accumulation_steps",
        ),
        # 3 batches cannot complete one update of 4 accumulated batches.
        (
            "epochs_below_one_accumulated_update",
            dict(epochs=1, steps_per_epoch=3, gradient_accumulation_steps=4),
            "epochs",
        ),
        # ceil(250 / 100) = 3 batches < 4.
        (
            "examples_below_one_accumulated_update",
            dict(examples=250, batch_size=100, gradient_accumulation_steps=4),
            "examples",
        ),
        # 0.04 x 10 = 0.4 batches rounds to 0.
        (
            "epochs_below_one_batch",
            dict(epochs=0.04, steps_per_epoch=10),
            "epochs",
        ),
        # Finite, but epochs x batches overflows to infinity.
        ("epochs_overflow", dict(epochs=1e308, steps_per_epoch=10), "epochs"),
    )
    def test_bad_budget(self, kwargs, argument):
        with self.assertRaisesRegex(ValueError, f"`{argument}`"):
            Budget(**kwargs)

    @parameterized.named_parameters(
        ("zero", 0.0),
        ("negative", -0.5),
        ("nan", _NAN),
        ("inf", _INF),
        ("string", "0.5"),
        ("bool", True),
        # 0.04 x 10 = 0.4 updates rounds to 0.
        ("below_one_update", 0.04),
        ("overflow", 1e308),
    )
    def test_bad_fraction(self, fraction):
        with self.assertRaisesRegex(ValueError, "`fraction`"):
            Budget(steps=10).fraction(fraction)

    @parameterized.named_parameters(
        ("steps", dict(steps=-1), "Received: steps=-1"),
        (
            "dataset_array",
            dict(epochs=1, dataset=np.zeros((8, 3))),
            r"`steps_per_epoch=.*Received: dataset=ndarray of shape \(8, 3\)",
        ),
    )
    def test_message_shows_received_value(self, kwargs, expected):
        with self.assertRaisesRegex(ValueError, expected):
            Budget(**kwargs)


if __name__ == "__main__":
    absltest.main()
