"""A step server for tests/bench/test_step_server.py: ``python -m tests.bench.fake_step_server MODE``.

MODE ``ok`` serves 10 ms steps; ``crash`` dies before it is ready; ``die_on_step`` dies at its first step.
Its ready object carries FAKE_FLAG from its environment, so a test sees what ``env`` passed, and
FAKE_PARAMS (default 7) as its trainable parameter count.
"""

from __future__ import annotations

import os
import sys
import time

from src.bench.step_server import serve


def sleepy_step() -> float:
    start = time.perf_counter()
    time.sleep(0.01)
    return time.perf_counter() - start


def dying_step() -> float:
    print("fake server: out of memory", file=sys.stderr, flush=True)
    os._exit(3)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "crash":
        print("fake server: no such model 'resnet51'", file=sys.stderr)
        sys.exit(2)
    serve(dying_step if mode == "die_on_step" else sleepy_step,
          {"params": int(os.environ.get("FAKE_PARAMS", "7")), "flag": os.environ.get("FAKE_FLAG", "")})
