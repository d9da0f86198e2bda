"""clickstream: a small, realistic ETL of website click events, with the standard library only.

Shows a flow shaped like real data work: a source system drops a CSV file (generated here,
with the dirt real exports have: duplicates, missing users, bad timestamps, unknown event
types); ``extract`` reads it; ``clean`` drops and counts the bad rows; ``aggregate`` builds
per-page daily statistics; ``load`` writes them into a SQLite table idempotently (a re-run
of the same day replaces that day); ``check`` reads the table back and fails the run when
the numbers do not add up. ``extract`` and ``load`` retry, as I/O tasks should. Params are
typed: ``-p day=2024-03-01`` arrives in the tasks as a ``datetime.date``.

Run it (the warehouse defaults to a SQLite file next to the generated CSV in a temp folder):

    weir run examples/etl.py:clickstream -p day=2024-03-01 -p events=5000
    weir run examples/etl.py:clickstream -p warehouse=/tmp/warehouse.db
    python examples/etl.py
"""

import csv
import random
import sqlite3
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import weir

PAGES = ("/", "/search", "/product/42", "/product/7", "/cart", "/checkout")
EVENT_TYPES = ("page_view", "click", "add_to_cart", "purchase")
FIELDS = ("event_id", "user_id", "session_id", "ts", "event_type", "url", "amount")


@weir.task
def land_file(day: date, events: int, seed: int) -> str:
    """Play the source system: write the day's export as a CSV file in a new temp folder."""
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="weir-clickstream-"))
    path = folder / f"events-{day.isoformat()}.csv"
    start = datetime.combine(day, time(0), tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(events):
        kind = rng.choices(EVENT_TYPES, weights=(70, 20, 7, 3))[0]
        rows.append(
            {
                "event_id": f"e{i:06d}",
                "user_id": f"u{rng.randint(1, max(1, events // 20)):04d}",
                "session_id": f"s{rng.randint(1, max(1, events // 8)):05d}",
                "ts": (start + timedelta(seconds=rng.randint(0, 86_399))).isoformat(),
                "event_type": kind,
                "url": rng.choice(PAGES),
                "amount": f"{rng.uniform(5, 200):.2f}" if kind == "purchase" else "",
            }
        )
    # The dirt of real exports: about 2% each of duplicates, missing users, bad timestamps
    # and event types this pipeline does not know.
    for row in rng.sample(rows, k=events // 50):
        rows.append(dict(row))
    for row in rng.sample(rows, k=events // 50):
        row["user_id"] = ""
    for row in rng.sample(rows, k=events // 50):
        row["ts"] = "not-a-time"
    for row in rng.sample(rows, k=events // 50):
        row["event_type"] = "heartbeat"
    rng.shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    weir.context().log.info("landed %d rows in %s", len(rows), path)
    return str(path)


@weir.task(retries=2, retry_delay=1.0)
def extract(path: str) -> list[dict[str, str]]:
    """Read the raw events, as strings."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    weir.context().log.info("read %d rows from %s", len(rows), path)
    return rows


@weir.task
def clean(rows: list[dict[str, str]], day: date) -> dict[str, Any]:
    """Drop duplicates and invalid rows; parse types; count what was dropped and why."""
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    dropped: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["event_id"] in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(row["event_id"])
        if not row["user_id"]:
            dropped["missing_user"] += 1
            continue
        if row["event_type"] not in EVENT_TYPES:
            dropped["unknown_event_type"] += 1
            continue
        try:
            ts = datetime.fromisoformat(row["ts"])
        except ValueError:
            dropped["bad_timestamp"] += 1
            continue
        if ts.date() != day:
            dropped["other_day"] += 1
            continue
        kept.append({**row, "ts": ts, "amount": float(row["amount"] or 0)})
    weir.context().log.info("kept %d of %d rows; dropped %s", len(kept), len(rows), dict(dropped))
    return {"events": kept, "dropped": dict(dropped)}


@weir.task
def aggregate(cleaned: dict[str, Any], day: date) -> list[dict[str, Any]]:
    """Per page: page views, clicks, unique users, purchases and revenue for the day."""
    stats: dict[str, dict[str, Any]] = {}
    users: dict[str, set[str]] = defaultdict(set)
    for event in cleaned["events"]:
        page = stats.setdefault(
            event["url"],
            {
                "day": day.isoformat(),
                "url": event["url"],
                "page_views": 0,
                "clicks": 0,
                "purchases": 0,
                "revenue": 0.0,
            },
        )
        users[event["url"]].add(event["user_id"])
        if event["event_type"] == "page_view":
            page["page_views"] += 1
        elif event["event_type"] == "click":
            page["clicks"] += 1
        elif event["event_type"] == "purchase":
            page["purchases"] += 1
            page["revenue"] = round(page["revenue"] + event["amount"], 2)
    for url, page in stats.items():
        page["unique_users"] = len(users[url])
    return sorted(stats.values(), key=lambda page: page["url"])


@weir.task(retries=2, retry_delay=1.0)
def load(stats: list[dict[str, Any]], day: date, warehouse: str | None, landed: str) -> str:
    """Replace the day's rows of ``page_stats`` in one transaction; return the database path."""
    db = warehouse or str(Path(landed).parent / "warehouse.db")
    with sqlite3.connect(db) as conn:  # commits on success, rolls back on error
        conn.execute(
            """CREATE TABLE IF NOT EXISTS page_stats (
                   day TEXT NOT NULL, url TEXT NOT NULL, page_views INTEGER NOT NULL,
                   clicks INTEGER NOT NULL, unique_users INTEGER NOT NULL,
                   purchases INTEGER NOT NULL, revenue REAL NOT NULL, PRIMARY KEY (day, url))"""
        )
        conn.execute("DELETE FROM page_stats WHERE day = ?", (day.isoformat(),))
        conn.executemany(
            "INSERT INTO page_stats VALUES"
            " (:day, :url, :page_views, :clicks, :unique_users, :purchases, :revenue)",
            stats,
        )
    conn.close()
    weir.context().log.info("loaded %d rows for %s into %s", len(stats), day, db)
    return db


@weir.task
def check(db: str, cleaned: dict[str, Any], day: date) -> dict[str, Any]:
    """Read the table back: the day's totals must match the cleaned events exactly."""
    events = cleaned["events"]
    expected_views = sum(1 for e in events if e["event_type"] == "page_view")
    expected_purchases = sum(1 for e in events if e["event_type"] == "purchase")
    with sqlite3.connect(db) as conn:
        pages, views, purchases, revenue = conn.execute(
            "SELECT COUNT(*), SUM(page_views), SUM(purchases), ROUND(SUM(revenue), 2)"
            " FROM page_stats WHERE day = ?",
            (day.isoformat(),),
        ).fetchone()
    conn.close()
    problems = []
    if pages == 0:
        problems.append(f"no rows for {day}")
    if views != expected_views:
        problems.append(f"page_views {views} != {expected_views} cleaned page_view events")
    if purchases != expected_purchases:
        problems.append(f"purchases {purchases} != {expected_purchases} cleaned purchase events")
    if revenue is not None and revenue < 0:
        problems.append(f"negative revenue {revenue}")
    if problems:
        raise ValueError("quality check failed: " + "; ".join(problems))
    return {
        "day": day.isoformat(),
        "warehouse": db,
        "pages": pages,
        "events": len(events),
        "dropped": cleaned["dropped"],
        "page_views": views,
        "purchases": purchases,
        "revenue": revenue,
    }


@weir.flow
def clickstream(
    day: date = date(2024, 3, 1), events: int = 2000, seed: int = 7, warehouse: str | None = None
) -> dict[str, Any]:
    """Daily page statistics from the website's click events."""
    landed = land_file(day, events, seed)
    cleaned = clean(extract(landed), day)
    db = load(aggregate(cleaned, day), day, warehouse, landed)
    return check(db, cleaned, day)


if __name__ == "__main__":
    run = clickstream.run()
    summary = run.result()
    print(f"run {run.id}: {run.state}")
    for key, value in summary.items():
        print(f"  {key:<11} {value}")
