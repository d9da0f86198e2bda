"""Unit tests of the run engine: no store, no processes, no real time.

A package (unlike most test folders) because ``test_mapping`` is also a module name in
``tests/scheduler``.
"""
