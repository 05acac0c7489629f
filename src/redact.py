"""Credentials out of everything the suite writes: one helper for logs, job.json, MLflow params and tags,
error lines and carried bundles.

A tracking URI may carry a password (``http://user:password@host``, ``postgresql://u:p@db/mlflow``) or a
token in its query string (``?token=…``, a signed URL's ``X-Amz-Signature``). `redact` replaces the
user-info part of every URL in a text with ``***`` and the value of every query parameter whose name
looks secret (token, password, secret, key, signature, credential, auth, session) with ``***``.
Hand-written (stdlib only) because the job record and the watchdog must stay free of heavy imports.
Credentials belong in ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` / ``MLFLOW_TRACKING_TOKEN``,
which MLflow reads and the suite never writes.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from src.atomic_files import atomic_write_text

MASK = "***"
#: scheme://user-info@ — the user-info part (user, user:password or a bare token) is masked.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#'\"]+)@")
#: A query (or fragment) parameter whose name looks secret: its value is masked.
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;#][^=&\s'\"#]*(?:token|passw|pwd|secret|key|sig|credential|auth|session|sas)[^=&\s'\"#]*=)"
    r"(?P<value>[^&\s'\"#]*)",
    re.IGNORECASE,
)


def redact(text: Any) -> Any:
    """``text`` with the credentials of every URL in it masked; a non-string is returned as it is."""
    if not isinstance(text, str) or ("@" not in text and "=" not in text):
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['key']}{MASK}" if m["value"] else m[0], text)


def redact_tree(value: Any) -> Any:
    """`redact` applied to every string in a nest of dicts, lists and tuples (keys included)."""
    if isinstance(value, dict):
        return {redact_tree(k): redact_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_tree(v) for v in value)
    return redact(value)


class RedactingFilter(logging.Filter):
    """A logging filter that masks credentials in a record's message, arguments and traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a malformed record is logging's to report, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()


def redact_logging() -> None:
    """Put `RedactingFilter` on every handler of the root logger (Hydra's ``run.log`` and console ones,
    and any added since); idempotent."""
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def redact_file(path: Path) -> bool:
    """Rewrite the text file ``path`` (atomically) with its credentials masked; returns whether it held
    any. A missing or unreadable file is left alone."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return False
    cleaned = redact(text)
    if cleaned == text:
        return False
    atomic_write_text(path, cleaned)
    return True
