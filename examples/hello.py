"""hello: the smallest weir flow: two tasks, one param, a log line.

Shows: ``@weir.task`` and ``@weir.flow``, a flow param with a default, passing one task's
result to the next, and ``weir.context().log`` (its lines land in the try's log file).

Run it:

    weir run examples/hello.py:hello -p name=Ada
    python examples/hello.py
"""

import weir


@weir.task
def greet(name: str) -> str:
    """Build the greeting, and say in the task's log who asked for it."""
    ctx = weir.context()
    ctx.log.info("greeting %s (run %s, task %s, try %s)", name, ctx.run_id, ctx.task_id, ctx.try_number)
    return f"Hello, {name}!"


@weir.task
def shout(greeting: str) -> str:
    """Say it louder."""
    return greeting.upper()


@weir.flow
def hello(name: str = "world") -> str:
    """Greet someone, loudly."""
    return shout(greet(name))


if __name__ == "__main__":
    run = hello.run()
    print(f"run {run.id}: {run.state} -> {run.result()!r}")
