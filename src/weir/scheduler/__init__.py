"""The control loop: drives runs, task by task, and records every state change."""
