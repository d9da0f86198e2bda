"""One run's state machine, with no I/O: progress, outcome rules as tables, mapping, timers,
the cache, the changes it makes and the work items it gives (:class:`~weir.engine.run.RunEngine`)."""
