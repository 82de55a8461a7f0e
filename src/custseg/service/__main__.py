"""The scoring service's process: ``python -m custseg.service MODEL [options]``.

``custseg serve`` checks its options and becomes this process (exec). In order, before
anything is served: the model file is loaded and checked once (a bad file: one
``error:`` line, exit 2), the API key is read from the environment variable named by
``--api-key-env`` (never from the command line; unset or empty: exit 2), and the port is
bound here, not probed (in use: exit 2 with a message). Then uvicorn serves on that
socket, with one process or, with ``--workers N``, N worker processes that each build
the app from an import string (:func:`custseg.service.app.worker_app`) with the settings
passed in the environment.

SIGTERM (or Ctrl+C) stops accepting connections, lets the requests in flight finish,
and exits 0. Connections are uvicorn's h11 protocol with deadlines
(:mod:`custseg.service.protocol`): a client that pauses for ``--timeout`` seconds while
sending a request or reading a response is cut off, so neither a slow client nor a
drain waits for ever.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
from pathlib import Path

#: Exit code of a refusal (the command line's).
USAGE = 2

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"service": {"format": "%(asctime)s %(message)s",
                               "datefmt": "%Y-%m-%dT%H:%M:%S"}},
    "filters": {"bad_requests": {"()": "custseg.service.protocol.QuietBadRequests"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                            "formatter": "service"}},
    "loggers": {
        # uvicorn's own lines only when something is wrong; its access log is off (ours
        # is one line per request without query strings)
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        # its line for a request that is not HTTP: the service logs its own
        "uvicorn.error": {"level": "WARNING", "filters": ["bad_requests"]},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "custseg.service": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, as every custseg refusal
        _fail(f"{message} (see custseg serve --help)")


def _fail(message: str) -> None:
    sys.stderr.write("error: " + " ".join(str(message).split("\n")) + "\n")
    sys.stderr.flush()
    raise SystemExit(USAGE)


def _positive(maximum: int | None = None):
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{value} must be at least 1")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} must be at most {maximum:,}")
        return value

    return check


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535)")
    return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    from custseg.service.settings import DEFAULTS, MAXIMA

    parser = _Parser(prog="custseg serve", description="The custseg scoring service.")
    parser.add_argument("model")
    parser.add_argument("--host", default=DEFAULTS["host"])
    parser.add_argument("--port", type=_port, default=DEFAULTS["port"])
    parser.add_argument("--api-key-env", default=None)
    for name in ("workers", "max_rows", "max_body_mb", "max_json_mb", "max_decompressed_mb",
                 "timeout"):
        parser.add_argument("--" + name.replace("_", "-"), type=_positive(MAXIMA.get(name)),
                            default=DEFAULTS[name])
    return parser.parse_args(argv)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` as uvicorn binds one (IPv6 when the host has a
    colon, SO_REUSEADDR), or exit 2 saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except (OSError, UnicodeError) as exc:
        sock.close()
        code = getattr(exc, "errno", None)
        if code == errno.EADDRINUSE:
            _fail(f"port {port} is in use on {host}; choose another with --port (or stop "
                  "what listens there).")
        if code == errno.EACCES:
            _fail(f"port {port} needs administrator rights here; choose one above 1023 with "
                  "--port.")
        reason = getattr(exc, "strerror", None) or str(exc)
        _fail(f"--host {host!r:.60} is not an address this machine can serve on ({reason}); "
              "use 127.0.0.1, or 0.0.0.0 for every network interface.")
    sock.set_inheritable(True)
    return sock


def _stopping() -> dict[str, int | None]:
    """Handlers for SIGTERM and SIGINT that only record the signal: uvicorn takes them
    over while it serves (and drains on them), then raises the signal again, which lands
    here instead of killing the process, so that a drained stop exits 0."""
    seen: dict[str, int | None] = {"signal": None}

    def record(signum: int, frame: object) -> None:
        seen["signal"] = signum

    for each in (signal.SIGTERM, signal.SIGINT):
        signal.signal(each, record)
    return seen


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from custseg.errors import CustsegError
    from custseg.io.model_files import read_model_file
    from custseg.service.settings import ENV, MB, Settings, SettingsError, key_from_env

    if args.workers > 1 and not Path(args.model).is_file():
        _fail(f"{args.model!r:.80} is not a regular file; with --workers each worker loads "
              "the model file again, so give a file (not a pipe)")
    try:
        loaded = read_model_file(args.model)
    except CustsegError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"{exc.strerror or exc} ({args.model}); check the path and its permissions.")
    try:
        key = key_from_env(args.api_key_env)
        settings = Settings(max_rows=args.max_rows, max_body_bytes=args.max_body_mb * MB,
                            max_json_bytes=min(args.max_json_mb, args.max_body_mb) * MB,
                            max_decompressed_bytes=args.max_decompressed_mb * MB,
                            timeout=args.timeout, api_key=key)
    except SettingsError as exc:
        _fail(str(exc))
    sock = bind(args.host, args.port)
    import uvicorn

    from custseg.service.protocol import Protocol

    Protocol.timeout = settings.timeout
    model_path = str(Path(args.model).resolve())
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    name = Path(args.model).name
    from custseg.cluster.algorithms import ALGORITHMS

    algorithm = loaded.model.config.algorithm
    label = ALGORITHMS[algorithm].label if algorithm in ALGORITHMS else algorithm
    info = (f"custseg serve: {name} ({label}, "
            f"{len(loaded.model.segments)} segments) on http://{shown}:{port} "
            f"({args.workers} worker{'s' if args.workers > 1 else ''}; API key "
            f"{'required' if key else 'not set'}; docs at /docs). SIGTERM or Ctrl+C stops.")
    _stopping()
    if args.workers == 1:
        from custseg.service.app import create_app

        app = create_app(loaded.model, settings, format_version=loaded.format_version,
                         name=name)
        config = uvicorn.Config(app, log_config=LOG_CONFIG, access_log=False, http=Protocol,
                                server_header=False, proxy_headers=False)
        server = uvicorn.Server(config)
        _announce(info, key, args.host)
        server.run(sockets=[sock])
        if not server.started:
            _fail("the server did not start (see the lines above).")
    else:
        from uvicorn.supervisors import Multiprocess

        os.environ[ENV] = settings.to_env(model=model_path, sha256=loaded.sha256,
                                          api_key_env=args.api_key_env)
        config = uvicorn.Config("custseg.service.app:worker_app", factory=True,
                                workers=args.workers, log_config=LOG_CONFIG, http=Protocol,
                                access_log=False, server_header=False, proxy_headers=False)
        _announce(info, key, args.host)
        supervisor = Multiprocess(config, sockets=[sock])
        supervisor.run()
        from uvicorn.config import STARTUP_FAILURE

        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            _fail("a worker could not start (see the lines above).")
    sock.close()
    sys.stderr.write("custseg serve: stopped; every request in flight was answered.\n")
    return 0


def _announce(info: str, key: str | None, host: str) -> None:
    sys.stderr.write(info + "\n")
    if key is None and host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(f"warning: no API key and --host {host}: anyone who can reach this "
                         "port can score; give --api-key-env VAR to require a key.\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
