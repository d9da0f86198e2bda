"""squares: fan out over a list made at run time, then reduce.

Shows: ``square.map(...)`` making one task run per element of a list that only exists once
``numbers`` has run, and ``total`` receiving every element's result as one list. The
flow's return value is the run's result. ``make demo`` runs this flow.

Run it:

    weir run examples/fan_out.py:squares -p n=5
    python examples/fan_out.py
"""

import weir


@weir.task
def numbers(n: int) -> list[int]:
    """The numbers 0 .. n-1."""
    return list(range(n))


@weir.task
def square(x: int) -> int:
    """One mapped task run per number."""
    return x * x


@weir.task
def total(squares: list[int]) -> int:
    """Add up the squares, in the order of the numbers."""
    result = sum(squares)
    weir.context().log.info("%s = %d", " + ".join(map(str, squares)) or "0", result)
    return result


@weir.flow
def squares(n: int = 5) -> int:
    """The sum of the squares of 0 .. n-1."""
    return total(square.map(numbers(n)))


if __name__ == "__main__":
    run = squares.run(n=5)
    mapped = sorted(
        (t for t in run.task_runs if t.task_id == "square" and t.map_index >= 0), key=lambda t: t.map_index
    )
    print(f"run {run.id}: {run.state}; {len(mapped)} square task runs; sum of squares = {run.result()}")
