"""SIGTERM (a scheduler's or `kill`'s polite stop) as KeyboardInterrupt, so that a job records that it was
stopped; SIGKILL cannot be caught (the job's watchdog marks it, src/train/watchdog.py).

`src.run` first installs `exit_while_loading` (before Hydra, TensorFlow and MLflow load: a second or more,
in which SIGTERM's default action would end the process without a word, and no job exists yet to record),
then, around all it does, `install_sigterm_interrupt` for the rest of the process's life;
`sigterm_as_interrupt` gives the same to `train` called from Python. Under submitit, SIGTERM is
submitit's: it ignores it and requeues on its preemption signal. Free of Keras and TensorFlow.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: What a job stopped before it claimed its folder says (nothing to resume, nothing recorded).
NOT_STARTED = "interrupted before the job started: nothing was trained or recorded"


def _exit_not_started(signum: int, frame: object) -> None:
    sys.stderr.write(f"{NOT_STARTED}.\n")
    sys.stderr.flush()
    os._exit(130)  # no job, no files: nothing to unwind, and a half-imported module must not run on


def exit_while_loading() -> None:
    """SIGTERM or Ctrl-C ends the process at once with the one line `NOT_STARTED` (exit status 130)."""
    if _ours():
        signal.signal(signal.SIGTERM, _exit_not_started)
        signal.signal(signal.SIGINT, _exit_not_started)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _ours() -> bool:
    """Whether this process may handle SIGTERM (signal handlers live in the main thread; not under submitit)."""
    return threading.current_thread() is threading.main_thread() and not os.environ.get("SUBMITIT_EXECUTOR")


def install_sigterm_interrupt() -> None:
    """From now on, SIGTERM (and Ctrl-C) raise KeyboardInterrupt in the main thread."""
    if _ours():
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block; the previous handler is back after it."""
    if not _ours():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
