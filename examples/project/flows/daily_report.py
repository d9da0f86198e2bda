"""A scheduled flow: every day at 06:00 in Paris, summarise the previous day's data interval.

cd examples/project
weir flows next daily_report --count 3     # the coming fire times and data intervals
weir backfill daily_report --start 2026-01-01 --end 2026-01-05
weir server                                # schedules it, and shows it at http://127.0.0.1:8642/
"""

import weir


@weir.task(retries=2, retry_delay=5, retry_backoff=2)
def window() -> str:
    ctx = weir.context()
    start, end = ctx.data_interval  # a run made by hand gets the interval that ended last
    ctx.log.info("summarising %s .. %s", start, end)
    return f"{start:%Y-%m-%d}"


@weir.task
def summary(day: str) -> dict[str, str]:
    return {"day": day, "status": "ok"}


@weir.flow(schedule="0 6 * * *", tz="Europe/Paris", start="2026-01-01", catchup=False)
def daily_report() -> dict[str, str]:
    """Summarise yesterday, every morning."""
    return summary(window())
