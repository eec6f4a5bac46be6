"""`python -m gpuplan` is the `gpuplan` command."""

from gpuplan.cli.main import main

main()
