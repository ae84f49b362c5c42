"""The benchmark runs end to end and reports well-formed ratios."""

from absl.testing import absltest

from experiments import benchmark


class BenchmarkTest(absltest.TestCase):
    def test_measure_reports_every_variant_and_ratio(self):
        result = benchmark.measure(rounds=2, steps=3, batch_size=4)
        self.assertCountEqual(
            result["seconds_per_step"],
            ["float", "budget_linear", "keras_cosine"],
        )
        self.assertLen(result["ratios"], 3)
        for seconds in result["seconds_per_step"].values():
            self.assertGreater(seconds, 0.0)
        for ratio in result["ratios"].values():
            self.assertGreater(ratio, 0.0)


if __name__ == "__main__":
    absltest.main()
