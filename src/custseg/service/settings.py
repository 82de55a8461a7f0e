"""The service's limits and key, one frozen object for every request.

``custseg serve`` builds them from its options; a test builds them directly. With
``--workers N`` each worker process is started by uvicorn from an import string, so the
settings travel to it in one environment variable (:data:`ENV`), the API key excepted:
a worker reads the key from the variable the operator named, as the parent did.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

from custseg.io.source import ReadLimits

#: The environment variable that carries the settings to worker processes.
ENV = "CUSTSEG_SERVE"

MB = 1 << 20

#: The process options' defaults and upper bounds (``python -m custseg.service`` and
#: ``custseg serve``, whose Typer options are checked against these by a test, since the
#: command line may not import the service), in the options' units.
DEFAULTS = {"host": "127.0.0.1", "port": 8000, "workers": 1, "max_rows": 10_000,
            "max_body_mb": 200, "max_json_mb": 16, "timeout": 30,
            "max_decompressed_mb": ReadLimits.max_decompressed_bytes // MB}
MAXIMA = {"workers": 64, "max_rows": 1_000_000, "max_body_mb": 1_000_000,
          "max_json_mb": 1_000_000, "timeout": 3_600}


class SettingsError(ValueError):
    """A limit out of its range, or a worker's environment that does not hold settings."""


@dataclass(frozen=True)
class Settings:
    """What the service accepts.

    Parameters
    ----------
    max_rows
        Customers one ``/v1/predict`` request may hold.
    max_body_bytes
        Bytes a ``/v1/score`` body may have (the file as sent, compressed or not).
    api_key
        The key every ``/v1/`` request must carry, or None for none. Never printed.
    max_json_bytes
        Bytes a ``/v1/predict`` body may have: it is parsed in memory, where JSON takes
        several times its size, so its cap is lower than a file's.
    max_text_chars
        Characters a key or a value of a customer may have.
    max_keys
        Distinct keys (columns) the customers of one request may have.
    max_depth
        How deeply a JSON body may nest (the body itself, the list, a customer: 3).
    max_concurrent_scores
        ``/v1/score`` requests scored at once; more wait their turn.
    max_decompressed_bytes
        What a compressed ``/v1/score`` body may expand to (``custseg score``'s
        ``--max-decompressed-mb``, with its default).
    timeout
        Seconds a client may go without sending while its request is due (its head, or
        the next part of its body: 408) or without reading a response sent to it (the
        connection is closed). Scoring time does not count.
    """

    max_rows: int = DEFAULTS["max_rows"]
    max_body_bytes: int = DEFAULTS["max_body_mb"] * MB
    api_key: str | None = field(default=None, repr=False)
    max_json_bytes: int = DEFAULTS["max_json_mb"] * MB
    max_text_chars: int = 10_000
    max_keys: int = 1_000
    max_depth: int = 32
    max_concurrent_scores: int = 2
    max_decompressed_bytes: int = ReadLimits.max_decompressed_bytes
    timeout: int = DEFAULTS["timeout"]

    def __post_init__(self) -> None:
        for item in fields(self):
            if item.name == "api_key":
                continue
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"{item.name} must be a whole number of at least 1, "
                                    f"not {value!r}")
        if self.max_depth < 3:
            raise SettingsError("max_depth must be at least 3: a body, its list, a customer")
        if self.api_key is not None and (not isinstance(self.api_key, str)
                                         or not self.api_key.strip()):
            raise SettingsError("api_key must be a non-blank string, or None for no key")
        if self.api_key is not None and not sendable(self.api_key):
            raise SettingsError("api_key has spaces at an end or a control character, which "
                                "no HTTP header can carry: no request could present it")

    def to_env(self, *, model: str, sha256: str, api_key_env: str | None) -> str:
        """The settings for a worker: the model file to load (and its hash, so that a
        worker refuses a file replaced since the parent checked it) and the name of the
        key's variable, never the key."""
        limits = {k: v for k, v in asdict(self).items() if k != "api_key"}
        return json.dumps({"model": model, "sha256": sha256, "api_key_env": api_key_env,
                           "limits": limits})


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs: the model file, its hash, and the settings."""

    model: str
    sha256: str
    settings: Settings


def sendable(key: str) -> bool:
    """Whether a client can send ``key`` in a header: HTTP strips the spaces and tabs at
    a header value's ends and allows no control character, so a key with either (a
    trailing newline or space from an env file) could never match."""
    return key == key.strip(" \t") and not any(ord(c) < 32 or ord(c) == 127 for c in key)


def key_from_env(name: str | None, environ: os._Environ | dict | None = None) -> str | None:
    """The API key held by the environment variable ``name`` (None: no key). An unset
    or blank variable is refused: a key that was asked for is never silently off."""
    if name is None:
        return None
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    if value is None:
        raise SettingsError(f"the environment variable {name!r} (--api-key-env) is not set; "
                            "set it to the API key, e.g. export "
                            f"{name}=$(openssl rand -hex 32)")
    if not value.strip():
        raise SettingsError(f"the environment variable {name!r} (--api-key-env) is empty; "
                            "set it to the API key")
    if not sendable(value):
        raise SettingsError(f"the environment variable {name!r} (--api-key-env) holds a key "
                            "with spaces at an end or a control character (a newline?), "
                            "which no HTTP header can carry, so no request could present "
                            "it; set it to the key alone")
    return value


def worker_setup(environ: os._Environ | dict | None = None) -> WorkerSetup:
    """The settings a parent process left in :data:`ENV` (see :meth:`Settings.to_env`)."""
    environ = os.environ if environ is None else environ
    text = environ.get(ENV)
    if not text:
        raise SettingsError(f"{ENV} is not set: start the service with custseg serve")
    try:
        data = json.loads(text)
        limits = dict(data["limits"])
        key = key_from_env(data.get("api_key_env"), environ)
        return WorkerSetup(model=str(data["model"]), sha256=str(data["sha256"]),
                           settings=Settings(**limits, api_key=key))
    except (ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"{ENV} does not hold the service's settings ({exc})") from None
