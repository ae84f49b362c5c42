"""Runs the experiment scripts in child processes, for end-to-end tests."""

import json
import os
import pathlib
import socket
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def env(**extra):
    """The environment of a child run: quiet TensorFlow, one CPU device."""
    environment = dict(os.environ)
    environment.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    environment.pop("TF_CONFIG", None)
    environment.update(extra)
    return environment


def command(*flags):
    return [sys.executable, "-m", "experiments.train", *flags]


def run(*flags, timeout=300, **extra_env):
    """Runs experiments.train to completion; raises with its output if not."""
    done = subprocess.run(
        command(*flags),
        cwd=ROOT,
        env=env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise AssertionError(
            f"exit {done.returncode}\n{done.stdout[-3000:]}"
            f"\n{done.stderr[-3000:]}"
        )
    return done


def start(*flags, log_path, **extra_env):
    """Starts experiments.train in the background, output into `log_path`."""
    log = open(log_path, "w")
    return subprocess.Popen(
        command(*flags),
        cwd=ROOT,
        env=env(**extra_env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def free_ports(n):
    """`n` TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
