"""Command-line face of gpuplan: thin typer commands over the library."""
