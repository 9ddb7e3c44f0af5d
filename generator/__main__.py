"""`python -m generator`: the `fleetform` command."""

from generator.cli import main

main()
