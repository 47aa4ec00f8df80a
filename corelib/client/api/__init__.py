"""The low-level Engine API client: one mixin per resource, as docker-py's `docker.api`."""

from corelib.client.api.client import API_VERSION, APIClient

__all__ = ["API_VERSION", "APIClient"]
