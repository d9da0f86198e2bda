"""Typed settings, read once from the environment and passed down.

Nothing reads the environment at import time or in a default argument; callers
build a :class:`Settings` with :meth:`Settings.from_env` and hand it on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from weir.errors import SettingsError


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where weir keeps its state and how it runs tasks.

    Attributes:
        home: folder for the SQLite file, logs and large results (``WEIR_HOME``, default ``./.weir``).
        database_url: SQLAlchemy URL of the store (``WEIR_DATABASE_URL``; default SQLite in ``home``).
        executor: ``inline`` or ``local`` (``WEIR_EXECUTOR``, default ``local``).
        workers: size of the local process pool (``WEIR_WORKERS``, default the CPU count).
        max_tries_per_worker: tries a local worker process runs before it exits and a new one
            replaces it (``WEIR_MAX_TRIES_PER_WORKER``/``max_tries_per_worker``, default 0: no
            limit), as Celery's ``max_tasks_per_child``.
        result_inline_max: results up to this many bytes are stored in the database, larger
            ones in the result store (``WEIR_RESULT_INLINE_MAX``, default 64 KiB).
        results_url, logs_url: the result store and the log store: a folder or any fsspec URL
            (``WEIR_RESULTS_URL``/``results``, ``WEIR_LOGS_URL``/``logs``; default
            ``home/results`` and ``home/logs``). Workers write there; they need no database.
        flows_dirs: the project's flow folders (``flows`` in ``weir.toml``).
        project_root: the folder of ``weir.toml`` (else the current folder): flow files are
            named relative to it, and workers find them there.
        lease_seconds: how long a driver's lease on its runs lasts without a heartbeat
            (``WEIR_LEASE_SECONDS``/``lease_seconds``, default 15); then another may adopt them.
        registrar_timeout: seconds a flow file may take to import before the registrar stops it
            (``WEIR_REGISTRAR_TIMEOUT``/``registrar_timeout``, default 30).
        retention_days: the scheduler deletes ended runs older than this many days, about once
            an hour, as ``weir db clean`` does (``WEIR_RETENTION_DAYS``/``retention_days``,
            default 0: runs are kept forever).
    """

    home: Path
    database_url: str
    executor: str = "local"
    workers: int = 0
    max_tries_per_worker: int = 0
    result_inline_max: int = 64 * 1024
    results_url: str = ""
    logs_url: str = ""
    flows_dirs: tuple[Path, ...] = ()
    project_file: Path | None = None
    project_root: Path = Path(".")
    lease_seconds: float = 15.0
    registrar_timeout: float = 30.0
    retention_days: int = 0

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, *, cwd: Path | None = None, **overrides: Any
    ) -> Settings:
        """Build settings: ``overrides`` beat the environment (``environ``, default ``os.environ``),
        which beats the project file ``weir.toml`` (found from ``cwd`` upward), which beats the
        defaults.

        Raises:
            SettingsError: a bad value, or a ``weir.toml`` that does not parse (naming the file).
        """
        env = os.environ if environ is None else environ
        project_file = find_project_file(cwd or Path.cwd())
        project = read_project_file(project_file) if project_file else {}
        base = project_file.parent if project_file else (cwd or Path.cwd())

        def pick(env_name: str, key: str) -> Any:
            return env.get(env_name) or project.get(key)

        home = Path(pick("WEIR_HOME", "home") or ".weir")
        home = (base / home if project_file and not env.get("WEIR_HOME") else home).resolve()
        url = pick("WEIR_DATABASE_URL", "database_url") or f"sqlite:///{home / 'weir.db'}"
        flows = project.get("flows", [])
        if isinstance(flows, str):
            flows = [flows]
        max_tries = str(pick("WEIR_MAX_TRIES_PER_WORKER", "max_tries_per_worker") or "")
        retention = str(pick("WEIR_RETENTION_DAYS", "retention_days") or "")
        settings = cls(
            home=home,
            database_url=url,
            executor=pick("WEIR_EXECUTOR", "executor") or "local",
            workers=_int({"WEIR_WORKERS": str(pick("WEIR_WORKERS", "workers") or "")}, "WEIR_WORKERS", 0),
            max_tries_per_worker=_int(
                {"WEIR_MAX_TRIES_PER_WORKER": max_tries}, "WEIR_MAX_TRIES_PER_WORKER", 0
            ),
            result_inline_max=_int(env, "WEIR_RESULT_INLINE_MAX", 64 * 1024),
            results_url=_store_url(pick("WEIR_RESULTS_URL", "results"), base, home / "results"),
            logs_url=_store_url(pick("WEIR_LOGS_URL", "logs"), base, home / "logs"),
            flows_dirs=tuple((base / f).resolve() for f in flows),
            project_file=project_file,
            project_root=base.resolve(),
            lease_seconds=_float("WEIR_LEASE_SECONDS", pick("WEIR_LEASE_SECONDS", "lease_seconds"), 15.0),
            registrar_timeout=_float(
                "WEIR_REGISTRAR_TIMEOUT", pick("WEIR_REGISTRAR_TIMEOUT", "registrar_timeout"), 30.0
            ),
            retention_days=_int({"WEIR_RETENTION_DAYS": retention}, "WEIR_RETENTION_DAYS", 0),
        )
        if overrides:
            settings = replace(settings, **overrides)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`SettingsError` for a value weir cannot use."""
        from weir.executors.registry import names

        known = names()
        if self.executor not in known:
            raise SettingsError(f"unknown executor {self.executor!r}: choose one of {', '.join(known)}")
        if self.workers < 0:
            raise SettingsError(f"workers must be 0 (one per CPU) or more, not {self.workers}")
        if self.max_tries_per_worker < 0:
            raise SettingsError(
                f"max_tries_per_worker must be 0 (no limit) or more, not {self.max_tries_per_worker}"
            )
        if self.result_inline_max < 0:
            raise SettingsError("result_inline_max must be 0 or more")
        if self.lease_seconds <= 0:
            raise SettingsError(f"lease_seconds must be > 0, not {self.lease_seconds}")
        if self.registrar_timeout <= 0:
            raise SettingsError(f"registrar_timeout must be > 0, not {self.registrar_timeout}")
        if self.retention_days < 0:
            raise SettingsError(
                f"retention_days must be 0 (keep runs forever) or more, not {self.retention_days}"
            )

    @property
    def pool_size(self) -> int:
        """Number of local worker processes: ``workers``, or the CPU count when 0."""
        return self.workers or os.cpu_count() or 1

    @property
    def results(self) -> str:
        """The result store's URL (``home/results`` unless set)."""
        return self.results_url or str(self.home / "results")

    @property
    def logs(self) -> str:
        """The log store's URL (``home/logs`` unless set)."""
        return self.logs_url or str(self.home / "logs")


def find_project_file(start: Path) -> Path | None:
    """The nearest ``weir.toml`` in ``start`` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / "weir.toml"
        if candidate.is_file():
            return candidate
    return None


def read_project_file(path: Path) -> dict[str, Any]:
    """The ``[weir]`` table of a project file.

    Raises:
        SettingsError: the file is not valid TOML, or a key is unknown (naming the file).
    """
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the project file: {exc}") from None
    table = data.get("weir", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [weir] must be a table")
    known = {
        "flows",
        "database_url",
        "executor",
        "home",
        "workers",
        "max_tries_per_worker",
        "results",
        "logs",
        "lease_seconds",
        "registrar_timeout",
        "retention_days",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown key(s) in [weir]: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return table


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def _float(name: str, raw: object, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        return float(str(raw))
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None


def _store_url(value: object, base: Path, default: Path) -> str:
    """A store URL from settings: a URL as given, a relative folder from the project's folder."""
    if not value:
        return str(default)
    text = str(value)
    if "://" in text:
        return text
    return str((base / text).resolve())
