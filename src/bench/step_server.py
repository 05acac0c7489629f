"""A training step that lives in a process of its own and is stepped on demand, so that it can join
`timed_rounds` beside Keras steppers: one framework computes at a time, and machine load hits both alike.

PyTorch and TensorFlow cannot share a process here (a segmentation fault, measured with TF 2.21 and
torch 2.14.1), and timing them one after another in fresh processes let the machine drift between the
two: torchvision's ShuffleNet v2 measured 839–1,469 images/s in five such runs (experiments/bench).

The protocol is one JSON object per line. The server prints its ``ready`` object (e.g. the trainable
parameter count) once set up; then each ``step`` line on its stdin runs one step and answers
``{"seconds": ...}``; ``quit`` or the end of its stdin ends it. Both sides are here, with no framework
imports, so that the protocol is tested without PyTorch (tests/bench/test_step_server.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import IO, Any


def serve(step: Callable[[], float], ready: dict[str, Any], stdin: IO[str] | None = None,
          stdout: IO[str] | None = None) -> int:
    """Answer ``step`` lines with one call of ``step`` each (it returns its seconds); the steps served."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout

    def say(message: dict[str, Any]) -> None:
        stdout.write(json.dumps(message) + "\n")
        stdout.flush()

    say({"ready": True, **ready})
    served = 0
    for line in stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "step":
            say({"error": f"unknown command {command!r}: send 'step' or 'quit'"})
            continue
        say({"seconds": step()})
        served += 1
    return served


class ProcessStepper:
    """Client of `serve`: ``python -m module args...`` started once; each call runs one step there and
    waits for it. ``ready`` holds the server's ready object, ``seconds`` the step times it measured
    itself (the caller's clock adds one pipe round trip, well under a millisecond). ``env`` adds to or
    overrides this process' environment there. Use as a context manager, or call `close`."""

    def __init__(self, module: str, *args: object, env: dict[str, str] | None = None) -> None:
        self.command = [sys.executable, "-m", module, *map(str, args)]
        self.seconds: list[float] = []
        self._stderr = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty server cannot block on it
        self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr, text=True, bufsize=1,
                                      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})
        self.ready = self._receive("start")

    def _failure(self, doing: str) -> RuntimeError:
        self._proc.kill()
        self._proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:]
        return RuntimeError(f"{' '.join(self.command[1:])} failed during {doing} (exit {self._proc.returncode}): {tail}")

    def _receive(self, doing: str) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise self._failure(doing)
        message = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"{' '.join(self.command[1:])}: {message['error']}")
        return message

    def __call__(self) -> float:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write("step\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._failure("a step") from None
        seconds = float(self._receive("a step")["seconds"])
        self.seconds.append(seconds)
        return seconds

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(timeout=60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()

    def __enter__(self) -> ProcessStepper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
