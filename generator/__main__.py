"""`python -m drgen` runs the command line."""

from drgen.cli import main

main()
