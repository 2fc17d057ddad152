"""The reward service over HTTP: a FastAPI app (``pip install 'seal-gym[serve]'``) served by uvicorn.

Endpoints (JSON):

- ``POST /score``: ``{"task": {...reset options...}, "self_edit": str, "seed": int, "weights_version": str?,
  "timeout": float?}`` -> a :class:`~seal_gym.serve.RewardResult`; 503 when the queue is full (the body says
  so), 200 for every other answer, ``ok`` telling a reward from a failure;
- ``POST /prompt``: ``{"task": {...}}`` -> ``{"prompt": str, "info": {...}}``, the self-edit prompt to sample from;
- ``GET /health``: ``{"status": "ok", "env", "weights_version"}``; ``GET /metrics``: the service's metrics.

The service starts with the app and closes with it, answering every accepted request first.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time, and the
# request models are local to make_app (so that importing this module needs no FastAPI).
import contextlib
from typing import Any

from seal_gym.serve.service import RewardService, json_ready


def make_app(service: RewardService):
    """The ASGI app serving ``service``."""
    try:
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse
        from pydantic import BaseModel
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("the HTTP reward service needs FastAPI and uvicorn: pip install 'seal-gym[serve]'") \
            from err

    class ScoreRequest(BaseModel):
        task: dict[str, Any] = {}
        self_edit: str
        seed: int = 0
        weights_version: str | None = None
        timeout: float | None = -1.0

    class PromptRequest(BaseModel):
        task: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await service.start()
        yield
        await service.close(drain=True)

    app = FastAPI(title=f"seal-gym rewards: {service.name}", lifespan=lifespan)

    @app.post("/score")
    async def score(request: ScoreRequest):
        result = await service.score(request.task, request.self_edit, request.seed, request.weights_version,
                                     request.timeout)
        status = 503 if (result.reason or "").startswith("overloaded") else 200
        return JSONResponse(result.to_json(), status_code=status)

    @app.post("/prompt")
    async def prompt(request: PromptRequest):
        try:
            text, info = service.prompt(request.task)
        except (KeyError, ValueError, TypeError, IndexError) as err:
            return JSONResponse({"error": f"bad task: {type(err).__name__}: {err}"}, status_code=422)
        return {"prompt": text, "info": json_ready(info)}

    @app.get("/health")
    async def health():
        return {"status": "ok", "env": service.name, "weights_version": service.weights_version}

    @app.get("/metrics")
    async def metrics():
        return service.metrics()

    return app


class ServerThread:
    """``with ServerThread(app) as url:`` serves ``app`` with uvicorn on a free port of 127.0.0.1, in a thread, for
    the block (notebooks, tests, benchmarks); the app's shutdown (the service's drain) runs on exit."""

    def __init__(self, app, host: str = "127.0.0.1") -> None:
        import socket
        import threading

        import uvicorn

        self.socket = socket.socket()
        self.socket.bind((host, 0))
        self.url = f"http://{host}:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> str:
        import time

        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError("the server did not start")
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(60)
