"""Server configuration from the environment: secret key, cookie flags, upload limits.

``ABSFLOW_SECRET_KEY`` signs the sign-in form's CSRF token. When it is not set, a random
key is generated once into ``ABSFLOW_SECRET_FILE`` (default ``.absflow-secret`` in the
current directory, mode 0600) so a development server keeps working across restarts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SECRET_FILE = ".absflow-secret"
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    secret_key: str
    #: Send cookies only over HTTPS (set ABSFLOW_COOKIE_SECURE=1 behind TLS).
    cookie_secure: bool = False
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: Run background jobs in a worker thread of this process.
    run_worker: bool = True


def _secret_from_file(path: Path) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def settings_from_env() -> Settings:
    key = os.environ.get("ABSFLOW_SECRET_KEY")
    if not key:
        key = _secret_from_file(Path(os.environ.get("ABSFLOW_SECRET_FILE", DEFAULT_SECRET_FILE)))
    return Settings(
        secret_key=key,
        cookie_secure=os.environ.get("ABSFLOW_COOKIE_SECURE", "") in ("1", "true", "yes"),
        max_upload_bytes=int(os.environ.get("ABSFLOW_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
    )
