"""``python -m glacier_cli``: the ``glacier`` command, for environments without its script."""

from glacier_cli import main

main()
