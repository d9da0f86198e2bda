"""The application layer: one function per action (trigger, cancel, retry, clear, resume, pause,
unpause, backfill, send event, register, set pool), each taking a :class:`~weir.control.context.Context`
(store, clock, settings, actor) and running in one transaction that also appends an audit row;
and the reports (run details, flow summaries, grids) that the CLI, the API and the UI all show.
"""
