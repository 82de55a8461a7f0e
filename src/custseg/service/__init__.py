"""The scoring service (``custseg serve``): FastAPI + uvicorn, a face beside the command
line and the dashboard.

:func:`create_app` builds the ASGI app for a loaded model and :class:`Settings` (limits
and API key); ``python -m custseg.service`` is the process ``custseg serve`` becomes.
Only this package imports fastapi, uvicorn or starlette (an import-linter contract).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:  # lazy: ``python -m custseg.service`` parses first
    if name == "create_app":
        from custseg.service.app import create_app

        return create_app
    if name == "Settings":
        from custseg.service.settings import Settings

        return Settings
    raise AttributeError(name)
