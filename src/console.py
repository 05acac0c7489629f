"""A quiet console by default, everything with ``--verbose``.

TensorFlow's C++ start-up lines (the CUDA probe on a machine without a GPU, "oneDNN custom operations
are on", the build hints) are written straight to file descriptor 2 before its logging is set up, so no
environment variable hides them in TensorFlow 2.21; `quiet_tensorflow_import` imports TensorFlow with
fd 2 caught and writes back every line except those (hand-written: no library does this). LiteRT's
"Created TensorFlow Lite XNNPACK delegate" is likewise C++ stderr, at an interpreter's first allocation,
with no switch in its Python API: `quiet_stderr` catches it there. MLflow's store-creation notices are
Python logging, quietened by MLflow's own ``MLFLOW_LOGGING_LEVEL`` (it sets alembic's level from it too).

``--verbose`` is remembered in the environment (VERBOSE_ENV), so child processes inherit it.
"""

from __future__ import annotations

import contextlib
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
#: LiteRT's notice at an interpreter's first allocation (the default XNNPACK delegate), not a problem.
LITERT_NOISE = re.compile(r"INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.")
#: Set to "1" by `--verbose` (src.run): show every library's notices, in this process and its children.
VERBOSE_ENV = "CNN_ZOO_VERBOSE"


def is_verbose() -> bool:
    """Whether this process (or the command that started it) runs with ``--verbose``."""
    return os.environ.get(VERBOSE_ENV) == "1"


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


def quiet_stderr(noise: re.Pattern) -> contextlib.AbstractContextManager:
    """`filtered_stderr` of ``noise``, or nothing under ``--verbose``."""
    return contextlib.nullcontext() if is_verbose() else filtered_stderr(noise)


def quiet_tensorflow_import(verbose: bool) -> None:
    """Set TensorFlow's log level (errors only on a GPU machine, none on a CPU one: the CUDA probe's
    ``failed call to cuInit`` is an error line) and MLflow's (warnings: no "Creating initial MLflow
    database tables...") unless the environment sets them, and import TensorFlow without its start-up
    notices. ``verbose`` shows everything."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if has_gpu() else "3")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported: not yet
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
