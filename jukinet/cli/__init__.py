"""The `juki-net` command: one module per command group, parsing and printing only.

Every mistake a person can type ends in one line on stderr and exit status
2, never a traceback. An adapter at the edge: nothing below imports it.
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `juki-net` console command (and `python -m jukinet.cli`).

    Warnings become log records, held until the log's format is chosen, before anything
    that may raise one is imported (core/held_logs.py): a node's JSON log holds no raw line.
    """
    from jukinet.core import held_logs

    held_logs.hold()
    from jukinet.cli.main import main as run

    return run(argv)


__all__ = ["main"]
