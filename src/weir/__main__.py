"""``python -m weir``: the ``weir`` command line."""

from weir.cli.app import main

main()
