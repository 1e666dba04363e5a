"""Expected user errors: one class per kind, each naming the thing, the cause and the fix.

A :class:`FmnistError` is a mistake in the set-up (missing data, an unusable setting, a
results folder that cannot be written), not a bug. The command line prints it as one or two
lines, ``error: <what>: <cause>.`` and the fix, and exits with the kind's own code (see
``EXIT_CODES``); any other exception keeps its traceback. ``--debug`` or ``FMNIST_DEBUG=1``
brings the traceback back. In IPython and Jupyter (so in chapters rendered by Quarto) the same
short message replaces the traceback while the cell still fails.
"""
from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["FmnistError", "ConfigError", "DataError", "StoreError", "Stopped", "EXIT_CODES",
           "debug_enabled", "format_error", "install_ipython_handler"]


class FmnistError(Exception):
    """An expected user error.

    Parameters
    ----------
    what : str
        The thing at fault: a file, a folder, ``FMNIST_DATA=/path``, a profile name.
    cause : str
        What is wrong with it, without a final full stop.
    fix : str
        What to do about it, as a sentence.
    """

    exit_code = 1

    def __init__(self, what: str, cause: str, fix: str = "") -> None:
        super().__init__(what, cause, fix)  # args rebuild the error after pickling (joblib)
        self.what, self.cause, self.fix = what, cause, fix

    def __str__(self) -> str:
        return f"{self.what}: {self.cause}." + (f" {self.fix}" if self.fix else "")


class ConfigError(FmnistError, ValueError):
    """A setting (argument or environment variable) that cannot be used."""

    exit_code = 2  # argparse's code for a bad command line: same kind of mistake


class DataError(FmnistError, ValueError):
    """The data set is missing, damaged or not the official Fashion-MNIST."""

    exit_code = 3


class StoreError(FmnistError):
    """The result store cannot be written or read (a damaged entry is healed, not raised)."""

    exit_code = 4


EXIT_CODES = {cls.__name__: cls.exit_code for cls in (ConfigError, DataError, StoreError)}


class Stopped(BaseException):
    """A signal told the run to stop (raised by the command line's handlers, not an error).

    A ``BaseException`` that is not a ``KeyboardInterrupt``: skorch ends a fit early and
    carries on when it catches ``KeyboardInterrupt``, this passes through it. Everything on its
    way up cleans up as for Ctrl-C (joblib kills its workers, the store drops a half write).

    Parameters
    ----------
    signum : int
        ``signal.SIGINT``, ``SIGTERM`` or ``SIGHUP``; the exit code is ``128 + signum``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum

    def __str__(self) -> str:
        import signal

        return signal.Signals(self.signum).name


def debug_enabled() -> bool:
    """``FMNIST_DEBUG`` set to ``1``/``true``/``yes``: show tracebacks of expected errors too."""
    return os.environ.get("FMNIST_DEBUG", "").lower() in ("1", "true", "yes")


def format_error(err: FmnistError) -> str:
    """``error: <what>: <cause>.`` and, on a second line, the fix."""
    head = f"error: {err.what}: {err.cause}."
    return f"{head}\n  {err.fix}" if err.fix else head


def _ipython_handler(shell: Any, etype: type, value: BaseException, tb: Any,
                     tb_offset: int | None = None) -> None:
    if debug_enabled():
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    # _showtraceback publishes an error reply (ipykernel), so the cell still fails and
    # Quarto or nbclient stop; the "traceback" they print is our message alone.
    shell._showtraceback(etype, value, format_error(value).splitlines())
    return None


def install_ipython_handler() -> bool:
    """Show :class:`FmnistError` as its short message in a running IPython; ``True`` if installed."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    shell.set_custom_exc((FmnistError,), _ipython_handler)
    return True
