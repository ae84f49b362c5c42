"""The input benchmark runs end to end and reports well-formed ratios."""

import tensorflow as tf
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

    def test_video_measure_with_textured_frames(self):
        row = benchmark_input.measure(
            "video",
            model="videoswin_small",
            batch_size=2,
            pipeline_batches=2,
            train_steps=2,
        )
        self.assertEqual(row["frames"], "textured")
        self.assertGreater(row["pipeline_examples_per_s"], 0.0)
        self.assertGreater(row["train_examples_per_s"], 0.0)

    def test_textured_video_keeps_frame_count_and_size(self):
        images = tf.random.stateless_uniform(
            (3, 24, 40, 3), (0, 0), 0, 256, "int32"
        )
        noise = [tf.io.encode_jpeg(tf.cast(i, "uint8")) for i in images]
        example = {"frames": tf.stack(noise), "label": tf.constant(7)}
        textured = benchmark_input._textured_video(
            tf.constant(0, "int64"), example
        )
        self.assertEqual(int(textured["label"]), 7)
        self.assertEqual(textured["frames"].shape, (3,))
        for encoded in textured["frames"]:
            self.assertEqual(tf.io.decode_jpeg(encoded).shape, (24, 40, 3))
        # Each frame is drawn anew.
        self.assertLen(set(textured["frames"].numpy()), 3)

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
