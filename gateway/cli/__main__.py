"""``python -m gateway.cli``: the ``parking`` command without its console script."""

from gateway.cli import main

main()
