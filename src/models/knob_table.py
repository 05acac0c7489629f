"""Knob values checked against the registry's declarations, without importing Keras.

Importing the zoo (Keras, TensorFlow) takes about 8 s, so the command line reads the registry's knob
declarations (default, declared choices, small-input values) from ``knob_table.json``, written from the
registry by ``python -m src.models.knob_table``; a test keeps the two in step. A knob whose declared
choices are strings is an enumeration and its value must be one of them; other knobs must have the type
of their default (their ranges are the builders' to check).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from src.errors import ConfigError, did_you_mean

TABLE = Path(__file__).with_name("knob_table.json")
#: Knob values that were renamed: (knob, old value) -> the value's one spelling now. The small-input stem
#: was ``cifar`` in seven families and ``small`` in nine (issue 43); it is ``small`` everywhere.
RENAMED_VALUES = {("stem", "cifar"): "small"}


def renamed(knob: str, value: Any, choices: Sequence[Any]) -> str | None:
    """The one line refusing an old spelling of one of ``choices``, else None."""
    new = RENAMED_VALUES.get((knob, value)) if isinstance(value, str) else None
    return f"{knob}={value!r} is now spelled {new!r}." if new is not None and new in choices else None


def registry_table() -> dict[str, dict[str, Any]]:
    """model -> {"knobs": default of each knob, "choices": declared choices, "small": small-input knobs} (imports the zoo)."""
    from src.models.registry import get_spec, list_models

    table = {}
    for name in list_models():
        spec = get_spec(name)
        table[name] = json.loads(json.dumps({"knobs": spec.knobs(), "choices": spec.knob_choices,
                                             "small": spec.small_knobs}))  # tuples as lists, as in the file
    return table


@cache
def load_table() -> dict[str, dict[str, Any]]:
    """The table as written in knob_table.json."""
    return json.loads(TABLE.read_text())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(knob: str, value: Any, default: Any, choices: list) -> str | None:
    """Why ``value`` cannot be this knob's, else None."""
    if choices and all(isinstance(c, str) for c in choices):
        if value not in choices:
            return renamed(knob, value, choices) or (
                f"{knob}={value!r} is not valid; choose one of {choices}.{did_you_mean(str(value), choices)}")
        return None
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float) or default is None and any(_is_number(c) for c in choices):
        ok = _is_number(value) or (default is None and value is None)
        kind = "a number" + (" or null" if default is None else "")
    elif isinstance(default, list):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        kind = "a list of integers, e.g. " + str(choices[-1] if choices else default)
    else:
        return None
    return None if ok else f"{knob}={value!r} is not valid; give {kind} (default {default!r})."


def check_knob_values(model: str, knobs: Mapping[str, Any], table: Mapping[str, Any] | None = None) -> None:
    """ConfigError naming the first knob ``model`` does not have or whose value cannot be its; a model the
    table does not know is left to the registry (it names the closest)."""
    entry = (load_table() if table is None else table).get(model)
    if entry is None:
        return
    declared = entry["knobs"]
    for knob, value in knobs.items():
        if knob not in declared:
            raise ConfigError(
                f"Model {model!r} has no knob {knob!r}.{did_you_mean(knob, declared)} "
                f"Its knobs: {', '.join(f'{k}={v!r}' for k, v in declared.items()) or 'none'}."
            )
        problem = _problem(knob, value, declared[knob], entry["choices"].get(knob, []))
        if problem:
            raise ConfigError(f"{model}: model.{problem}")


def write_table(path: Path = TABLE) -> None:
    """Write the registry's table to ``path``, one model per line (small diffs)."""
    rows = [f"{json.dumps(name)}: {json.dumps(entry, sort_keys=True)}" for name, entry in sorted(registry_table().items())]
    Path(path).write_text("{\n" + ",\n".join(rows) + "\n}\n")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the registry's knob declarations for the command-line checks.")
    parser.add_argument("--out", type=Path, default=TABLE, help=f"where to write (default {TABLE.name} beside this module)")
    out = parser.parse_args().out
    write_table(out)
    print(f"wrote {out}")
