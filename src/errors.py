"""User-facing errors: one clear message naming the problem and the fix, no traceback wall.

`src.run` catches `SuiteError` and prints its message with exit code 2; everything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SuiteError(Exception):
    """An error caused by the user's input (config, data, files), not by a bug."""


class ConfigError(SuiteError, ValueError):
    """A config value or model knob that cannot work."""


class DataError(SuiteError):
    """Missing, truncated or corrupt data."""


class ArtifactWriteError(SuiteError):
    """An output file (checkpoint, model, report) could not be written: disk full, read-only, not a folder."""


class CheckpointError(SuiteError):
    """A saved model, checkpoint or training state that cannot be read (corrupt, or another architecture)."""


class TrainingDivergedError(SuiteError, FloatingPointError):
    """The loss became NaN or infinite: the job stops, says where the last good state is and what to change."""


class ExportError(SuiteError):
    """A model that cannot be exported as asked (e.g. it needs TFLite flex ops)."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class CompressionError(SuiteError):
    """A compression step (run in its own process) failed."""


class WorkerLostError(SuiteError):
    """A worker of a multi-worker job stopped answering (killed, crashed, unreachable): the others stop too."""
