"""A flow with notifiers, run by worker processes (imported there by module name).

The targets come from the environment, read when the module is imported: the test sets
``WEIR_TEST_NOTIFY_URL`` and ``WEIR_TEST_NOTIFY_SMTP`` before the worker pool starts.
"""

from __future__ import annotations

import os

import weir
from weir import notify

hook = notify.webhook(os.environ["WEIR_TEST_NOTIFY_URL"])
mail = notify.email("oncall@example.com", smtp=os.environ["WEIR_TEST_NOTIFY_SMTP"])


@weir.task(retries=1, on_retry=hook, on_failure=[hook, mail])
def load() -> None:
    raise ValueError(f"the table is empty (worker {os.getpid()})")


@weir.flow(on_failure=hook)
def nightly() -> None:
    load()
