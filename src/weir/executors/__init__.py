"""Where task code runs. Every executor implements :class:`~weir.executors.base.Executor` and is
found by name through :mod:`weir.executors.registry`."""
