"""Typed settings, read once from the environment and passed down.

Nothing reads the environment at import time or in a default argument; callers
build a :class:`Settings` with :meth:`Settings.from_env` and hand it on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from weir.errors import SettingsError

EXECUTORS = ("inline", "local")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where weir keeps its state and how it runs tasks.

    Attributes:
        home: folder for the SQLite file, logs and large results (``WEIR_HOME``, default ``./.weir``).
        database_url: SQLAlchemy URL of the store (``WEIR_DATABASE_URL``; default SQLite in ``home``).
        executor: ``inline`` or ``local`` (``WEIR_EXECUTOR``, default ``local``).
        workers: size of the local process pool (``WEIR_WORKERS``, default the CPU count).
        result_inline_max: results up to this many bytes are stored in the database, larger
            ones in ``home/results`` (``WEIR_RESULT_INLINE_MAX``, default 64 KiB).
    """

    home: Path
    database_url: str
    executor: str = "local"
    workers: int = 0
    result_inline_max: int = 64 * 1024

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), then apply ``overrides``."""
        env = os.environ if environ is None else environ
        home = Path(env.get("WEIR_HOME") or ".weir").resolve()
        url = env.get("WEIR_DATABASE_URL") or f"sqlite:///{home / 'weir.db'}"
        settings = cls(
            home=home,
            database_url=url,
            executor=env.get("WEIR_EXECUTOR") or "local",
            workers=_int(env, "WEIR_WORKERS", 0),
            result_inline_max=_int(env, "WEIR_RESULT_INLINE_MAX", 64 * 1024),
        )
        if overrides:
            settings = replace(settings, **overrides)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`SettingsError` for a value weir cannot use."""
        if self.executor not in EXECUTORS:
            raise SettingsError(f"unknown executor {self.executor!r}: choose one of {', '.join(EXECUTORS)}")
        if self.workers < 0:
            raise SettingsError(f"workers must be 0 (one per CPU) or more, not {self.workers}")
        if self.result_inline_max < 0:
            raise SettingsError("result_inline_max must be 0 or more")

    @property
    def pool_size(self) -> int:
        """Number of local worker processes: ``workers``, or the CPU count when 0."""
        return self.workers or os.cpu_count() or 1

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def results_dir(self) -> Path:
        return self.home / "results"


def _int(env: object, name: str, default: int) -> int:
    raw = env.get(name)  # type: ignore[attr-defined]
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
