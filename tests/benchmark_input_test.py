"""The input benchmark runs end to end and reports well-formed ratios."""

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver

from experiments import benchmark_input

FLAGS = flags.FLAGS


def setUpModule():
    if not FLAGS.is_parsed():
        FLAGS.mark_as_parsed()


class BenchmarkInputTest(absltest.TestCase):
    def test_measure_reports_both_rates_and_their_ratio(self):
        row = benchmark_input.measure(
            "classification",
            model="mlp",
            batch_size=2,
            pipeline_batches=2,
            train_steps=1,
        )
        self.assertEqual(row["dataset"], "cifar10")
        self.assertGreater(row["pipeline_examples_per_s"], 0.0)
        self.assertGreater(row["train_examples_per_s"], 0.0)
        self.assertAlmostEqual(
            row["ratio"],
            row["pipeline_examples_per_s"] / row["train_examples_per_s"],
            delta=0.01 * row["ratio"] + 0.01,
        )

    def test_main_prints_a_row_per_task(self):
        with flagsaver.flagsaver(
            input_benchmark_tasks=["classification"],
            input_benchmark_models=["classification=mlp"],
            input_benchmark_batches=1,
            input_benchmark_steps=1,
        ):
            with self.assertLogs(level="INFO") as logs:
                benchmark_input.main(["benchmark_input"])
        self.assertTrue(
            any('"task": "classification"' in line for line in logs.output)
        )


if __name__ == "__main__":
    absltest.main()
