"""A quiet console by default, everything with ``--verbose``.

TensorFlow's C++ start-up lines (the CUDA probe on a machine without a GPU, "oneDNN custom operations
are on", the build hints) are written straight to file descriptor 2 before its logging is set up, so no
environment variable hides them in TensorFlow 2.21; `quiet_tensorflow_import` imports TensorFlow with
fd 2 caught and writes back every line except those (hand-written: no library does this).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: TensorFlow's start-up notices that are not problems.
NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard|cuda_\w+|gpu_device)\.cc:\d+\]"
    r"|.*rebuild TensorFlow with the appropriate compiler flags"
)


def has_gpu() -> bool:
    """Whether an NVIDIA GPU device node exists (the CUDA probe's errors only mean something then)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


@contextmanager
def filtered_stderr(noise: re.Pattern = NOISE) -> Iterator[None]:
    """Catch what is written to fd 2 inside the block and write it back without the lines ``noise`` matches."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().decode(errors="replace").splitlines(keepends=True)
                    if not noise.match(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def quiet_tensorflow_import(verbose: bool) -> None:
    """Set TensorFlow's log level (errors only on a GPU machine, none on a CPU one: the CUDA probe's
    ``failed call to cuInit`` is an error line) unless the environment sets it, and import TensorFlow
    without its start-up notices. ``verbose`` shows everything."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if has_gpu() else "3")
    with filtered_stderr():
        try:
            import tensorflow  # noqa: F401
        except ImportError:  # a JAX-only install: nothing to quieten
            return
    import logging

    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # "Assets written to ..." at every TFLite export


def pop_flag(argv: list[str], flag: str) -> bool:
    """Remove ``flag`` from ``argv`` in place; whether it was there."""
    present = flag in argv
    while flag in argv:
        argv.remove(flag)
    return present
