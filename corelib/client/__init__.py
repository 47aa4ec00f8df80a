"""The Docker Engine API client library (`corelib.client.api`) and the `whale` CLI (`corelib.client.cli`).

docker-py's split: `transport` (sockets, HTTP/1.1, the attach hijack, the multiplexed stream format),
`api` (one module per resource, version negotiation), `cli` (one module per command, as docker/cli).
Nothing here is imported eagerly: `whale`'s start-up pays only for the command it runs.
"""
