"""Connecting to Ray for :class:`~seal_gym.adapt.ray_engine.RayEngine`: the import with an install hint, and
which Ray to join or start."""

from __future__ import annotations

import os

RAY_INSTALL_HINT = "pip install 'seal-gym[ray]'"


def import_ray():
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(f"engine='ray' needs Ray, which is not installed: {RAY_INSTALL_HINT}") from err
    return ray


def start_ray(ray, address: str | None, cpus_needed: int) -> None:
    """Connect this process to Ray as :class:`RayEngine`'s ``address`` says (Ray is not initialised yet)."""
    if address is None:
        try:  # Ray's own default: a Ray running for this machine. Asking for CPUs there would be refused.
            ray.init(address="auto", include_dashboard=False)
            return
        except ConnectionError:  # none is running: start one below
            address = "local"
    if address == "local":
        # A local Ray gets at least the logical CPUs its workers ask for, so that they all start.
        ray.init(address="local", num_cpus=max(os.cpu_count() or 1, cpus_needed), include_dashboard=False)
    else:
        ray.init(address=address, include_dashboard=False)
