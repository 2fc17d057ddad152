"""SEAL rewards over HTTP: `seal-gym serve --env SealSquad-v0` (see docs/serve.md).

Starts the reward service (seal_gym.serve) on the env's domain and model, behind a FastAPI app served by
uvicorn on 127.0.0.1:8000 by default. Clients POST /score with a task (the env's reset options, e.g.
{"passage_index": 3}), a self-edit and an inner seed, and get the reward or the reason there is none; concurrent
requests are trained together, at most --max-batch adapters an engine call. Ctrl-C answers every accepted
request, then stops.
"""

from __future__ import annotations

import argparse
import json

from seal_gym.commands.common import UsageError, usage_error
from seal_gym.commands.options import add_config_arguments, add_runtime_arguments, apply_runtime, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seal_gym.serve import ServiceConfig

    parser.add_argument("--env", default="SealSquad-v0", help="a seal_gym env id whose reward is served")
    parser.add_argument("--model", default=None, help="model name/path; default: embedded SmolLM2-135M-Instruct")
    parser.add_argument("--engine", default="batched", help="the inner loop's engine (batched trains a batch together)")
    parser.add_argument("--env-kwargs", default="{}", metavar="JSON",
                        help='more env arguments as JSON, e.g. \'{"dataset": "demo", "reward": "answer_logprob"}\'')
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="the TCP port to listen on")
    add_config_arguments(parser, ServiceConfig)
    add_runtime_arguments(parser)


def run(args: argparse.Namespace) -> int:
    apply_runtime(args)
    try:
        service, app = _prepare(args)
    except (UsageError, ValueError, TypeError, FileNotFoundError, ModuleNotFoundError) as err:
        return usage_error("serve", err)
    import uvicorn

    print(f"serving {service.name} rewards on http://{args.host}:{args.port} (POST /score, GET /health, GET /metrics)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _prepare(args: argparse.Namespace):
    from seal_gym.serve import RewardService, ServiceConfig
    from seal_gym.serve.http import make_app

    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as err:
        raise UsageError(f"--env-kwargs is not JSON: {err.msg}") from None
    if not isinstance(env_kwargs, dict):
        raise UsageError("--env-kwargs must be a JSON object of env arguments")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be in [1, 65535], got {args.port}")
    from seal_gym.registration import domain_specs, reward_kinds

    if reward_kinds(args.env) is None:
        served = [env_id for spec in domain_specs() if spec.reward_kinds for env_id in spec.env_ids]
        raise UsageError(f"--env {args.env}: serve takes a seal_gym env with an inner loop ({', '.join(served)})")
    config = config_from_args(args, ServiceConfig)
    service = RewardService.from_env(args.env, config, model=args.model, engine=args.engine, **env_kwargs)
    return service, make_app(service)
