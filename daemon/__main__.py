"""`python -m daemon` is the same as the `kith` command."""

from daemon.cli import main

main()
