"""How a task runs: find its code, resolve its inputs, call it, capture its logs, report."""
