"""Fixtures: a recording HTTP server and a recording SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_servers import HTTPRecorder, SMTPRecorder, serve_http, serve_smtp


@pytest.fixture
def http_server() -> Iterator[HTTPRecorder]:
    with serve_http() as recorder:
        yield recorder


@pytest.fixture
def smtp_server() -> Iterator[SMTPRecorder]:
    with serve_smtp() as recorder:
        yield recorder
