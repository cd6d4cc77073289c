"""How a command ends: its errors (one line on stderr, exit status 1, or 2 for a bad command
line) and a reader of stdout that went away (exit status 141)."""

import os
import sys


class CommandError(Exception):
    """A problem with the command line or the input: one line to stderr, no traceback."""


class UsageError(CommandError):
    """A malformed command line (exit status 2)."""


class OutputClosed(Exception):
    """The reader of stdout closed the pipe (``| head``): stop quietly."""


def to_stdout(write):
    """Call ``write(sys.stdout)`` and flush it; a reader that closed the pipe early raises
    :class:`OutputClosed` (only stdout's broken pipe: other errors keep their message)."""
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed from None


def silence_stdout():
    """Point stdout's descriptor at devnull, so that the interpreter's last flush of what is
    still buffered does not fail again (the recipe of Python's ``signal`` docs)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout without a descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
