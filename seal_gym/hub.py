"""Is the Hugging Face hub usable? Asked once per process, answered in about a second.

Without this, a model name that is neither a local folder nor in the Hugging Face cache waits through the
hub client's retries (measured in benchmarks/RESULTS.md) before ``from_pretrained`` gives up. The hub counts
as unusable when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value, the variables
``huggingface_hub`` itself honours, or when a TCP connection to it (or to the HTTPS proxy, if one is set)
does not open within :data:`PROBE_SECONDS`.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

PROBE_SECONDS = 1.0
"""How long the one connection attempt may take (DNS included)."""
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's own spelling of "true"
_reachable: bool | None = None


def offline_by_request() -> bool:
    """True if ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set to 1 / on / yes / true."""
    return any(os.environ.get(name, "").upper() in _TRUE for name in OFFLINE_VARIABLES)


def _address() -> tuple[str, int]:
    """Host and port a connection to the hub opens first: the HTTPS proxy if set, else the endpoint."""
    url = (os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
           or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    parsed = urlparse(url if "://" in url else f"http://{url}")
    return parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme == "https" else 80)


def _probe(address: tuple[str, int], answer: list[bool]) -> None:
    try:
        socket.create_connection(address, timeout=PROBE_SECONDS).close()
        answer.append(True)
    except OSError:
        answer.append(False)


def hub_reachable() -> bool:
    """Whether the hub answers, tested once per process (later calls reuse the answer).

    The probe runs in a thread that is waited for at most :data:`PROBE_SECONDS`: a name lookup that hangs
    (no DNS server) counts as unreachable too, since socket timeouts do not bound it.
    """
    global _reachable
    if _reachable is None:
        answer: list[bool] = []
        thread = threading.Thread(target=_probe, args=(_address(), answer), daemon=True)
        thread.start()
        thread.join(PROBE_SECONDS)
        _reachable = bool(answer and answer[0])
    return _reachable


def hub_unusable_reason() -> str | None:
    """Why the hub will not be asked (``None`` if it will): the variable that is set, or the failed probe."""
    if offline_by_request():
        return "HF_HUB_OFFLINE is set, so the hub was not asked"
    if not hub_reachable():
        host, port = _address()
        return (f"the Hugging Face hub did not answer within {PROBE_SECONDS:g} s ({host}:{port}); "
                "set HF_HUB_OFFLINE=1 to skip this check")
    return None
