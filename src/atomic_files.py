"""Files written so that a reader (or a job killed mid-write) sees the old or the new content, never a torn
file: a temporary name beside the target, fsync, then rename (POSIX ``rename`` replaces atomically).

The one atomic write of the suite: job folders (src/job_folder.py), training state, TFLite exports,
carried bundles and report tables all go through it. Stdlib only, so that the job record and the
watchdog stay free of heavy imports.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (``.<name>.<random><suffix>``: hidden, never a final name) for
    a writer that wants a file name (``model.save``, ``tarfile.open``); when the block ends, the file is
    fsynced and renamed to ``path``. Nothing is left behind when the block raises. ``suffix`` keeps the
    extension a writer insists on (Keras: ``.keras``, ``.weights.h5``). The file gets the mode of the
    folder's other files (umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    tmp = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        os.close(fd)
        yield tmp
        with open(tmp, "rb+") as fh:  # the writer may have replaced the file: sync what is there now
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (folders created)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (folders created)."""
    atomic_write_bytes(path, text.encode())


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """``rows`` to the CSV file ``path`` (atomically, folders created); the header is every key in
    first-seen order (a row lacking a key leaves its cell empty)."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())
    print(f"wrote {path}")
