"""What ``custseg app`` becomes (exec): Streamlit's command line, with Ctrl+C made quiet
until Streamlit's own handler takes over.

Python answers SIGINT with a KeyboardInterrupt from its first instant; one that lands while
Streamlit's server is still starting is raised inside starlette's startup and printed as a
traceback. Here SIGINT keeps its default action (the process ends, as SIGTERM makes it)
until Streamlit installs the handler that stops its server cleanly.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> None:
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from streamlit.web.cli import main as streamlit

    sys.argv = ["streamlit", *argv]
    streamlit()


if __name__ == "__main__":
    main(sys.argv[1:])
