"""The ``custseg`` program's entry point, which answers a stop signal from its first instant.

Importing the command line takes about a second (pandas, pyarrow, typer). A Ctrl+C, SIGTERM
or SIGHUP in that second would end in Python's KeyboardInterrupt traceback; here it ends as
any other stop does, with one line and exit 128 + N. Nothing has been read or written yet.
Once the command runs, :func:`custseg.cli.main` handles the signals itself (and cleans up).
This module imports nothing but the standard library until the handlers are in place.
"""

from __future__ import annotations

import os
import signal
import sys

_STOPS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
               if hasattr(signal, name))


def _stopped_while_starting(signum: int, _frame: object) -> None:
    name = signal.Signals(signum).name
    try:
        os.write(2, f"error: stopped by {name} while starting; nothing was read or "
                    "written.\n".encode())
    finally:
        os._exit(128 + signum)


def main() -> int:
    for stop in _STOPS:
        if signal.getsignal(stop) is not signal.SIG_IGN:  # ignored on purpose (nohup)
            signal.signal(stop, _stopped_while_starting)
    from custseg.cli import main as run

    return run()


if __name__ == "__main__":  # pragma: no cover - ``python -m custseg.entry``
    sys.exit(main())
