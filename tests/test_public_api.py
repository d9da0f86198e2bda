"""The public API: what weir/__init__.py exports."""

from __future__ import annotations

import weir


def test_all_is_sorted() -> None:
    assert weir.__all__ == sorted(weir.__all__)


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in weir.__all__ if not hasattr(weir, name)]
    assert missing == []


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(weir, "no_such_name")
