"""Keeps the Bazel BUILD file in step with the files in the tree."""

import ast
import pathlib

from absl.testing import absltest

ROOT = pathlib.Path(__file__).resolve().parent.parent


class _Recorder:
    """Evaluates BUILD (Starlark is Python here) and records its targets."""

    def __init__(self):
        self.targets = {}

    def rule(self, kind):
        def record(name, **kwargs):
            if name in self.targets:
                raise ValueError(f"duplicate target {name!r}")
            self.targets[name] = dict(kind=kind, **kwargs)

        return record

    def evaluate(self, text):
        namespace = {
            "load": lambda *args: None,
            "package": lambda **kwargs: None,
            "requirement": lambda name: f"@pypi//{name}",
            "py_library": self.rule("py_library"),
            "py_binary": self.rule("py_binary"),
            "py_test": self.rule("py_test"),
        }
        exec(compile(text, "BUILD", "exec"), namespace)
        return self.targets


def _targets():
    return _Recorder().evaluate((ROOT / "BUILD").read_text())


def _tracked(pattern):
    return sorted(
        str(path.relative_to(ROOT))
        for path in ROOT.glob(pattern)
        if "__pycache__" not in path.parts
    )


def _is_script(path):
    tree = ast.parse((ROOT / path).read_text())
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and getattr(node.test.left, "id", None) == "__name__"
        for node in tree.body
    )


class BuildFileTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.targets = _targets()
        self.srcs = {
            src for t in self.targets.values() for src in t.get("srcs", [])
        }

    def test_every_named_file_exists(self):
        for name, target in self.targets.items():
            for src in target.get("srcs", []) + [target.get("main")]:
                if src:
                    with self.subTest(target=name, src=src):
                        self.assertTrue((ROOT / src).is_file(), src)

    def test_every_library_module_is_in_the_library(self):
        library = set(self.targets["budgeted_keras"]["srcs"])
        for path in _tracked("budgeted_keras/**/*.py"):
            with self.subTest(path=path):
                self.assertIn(path, library)

    def test_every_script_has_a_binary(self):
        mains = {
            t["main"] for t in self.targets.values() if t["kind"] == "py_binary"
        }
        for path in _tracked("experiments/*.py"):
            with self.subTest(path=path):
                if _is_script(path):
                    self.assertIn(path, mains)
                else:
                    self.assertIn(path, self.srcs)

    def test_every_test_file_has_a_test(self):
        tested = {
            t["args"][0][len("$(location ") : -1]
            for t in self.targets.values()
            if t["kind"] == "py_test"
        }
        for path in _tracked("tests/*_test.py"):
            with self.subTest(path=path):
                self.assertIn(path, tested)

    def test_dependencies_name_existing_targets(self):
        for name, target in self.targets.items():
            for dep in target.get("deps", []):
                if dep.startswith(":"):
                    with self.subTest(target=name, dep=dep):
                        self.assertIn(dep[1:], self.targets)


if __name__ == "__main__":
    absltest.main()
