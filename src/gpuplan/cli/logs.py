"""Logging for the command line: stderr only, quiet unless asked.

Its own module so that the root command (``gpuplan --help``, every command's
start) does not import the consoles, pydantic and error helpers of ``_common``.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["setup_logging"]


def setup_logging(verbose: int) -> None:
    """Log to stderr so that --json output on stdout stays clean.

    Without -v only errors are logged: warnings are already part of every
    command's output (its table or its JSON), and saying them twice is noise.
    """
    level = logging.ERROR if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="[%(levelname)s] %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
