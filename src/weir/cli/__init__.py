"""The ``weir`` command line (Typer + Rich); the app is :data:`weir.cli.app.app`."""
