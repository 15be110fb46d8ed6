"""The `juki-net` command: one module per command group, parsing and printing only.

Every mistake a person can type ends in one line on stderr and exit status
2, never a traceback. An adapter at the edge: nothing below imports it.
"""

from jukinet.cli.main import main

__all__ = ["main"]
