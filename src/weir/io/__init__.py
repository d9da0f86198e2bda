"""Where workers put what a task leaves behind: the result store and the log store, each behind a URL.

A plain path (or ``file://``) is a folder on this machine; any other URL goes through fsspec, so
workers on other machines can write results and logs without the scheduler's disk. fsspec is
imported only when such a store is used.
"""
