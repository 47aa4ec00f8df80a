"""ttrpc, the small RPC protocol containerd speaks with its shims (github.com/containerd/ttrpc 1.1).

Stable API (asyncio), for the containerd layer and anyone else:

    from corelib.ttrpc import Client, Server, TtrpcError

    client = await Client.connect("unix:///run/containerd/s/abc")   # or a plain path
    resp = await client.call("containerd.task.v2.Task", "State", StateRequest(id="c1"), StateResponse,
                             timeout=5.0, metadata={"containerd-namespace-ttrpc": "default"})
    await client.close()

  - calls may run concurrently from many tasks over one connection; answers come in any order;
  - an error status raises TtrpcError(code, message) (gRPC code numbers, `Code` names them);
    a lost connection raises ConnectionClosed (a TtrpcError, code UNAVAILABLE, "ttrpc: closed");
    an expired `timeout` raises TtrpcError(DEADLINE_EXCEEDED) and is also sent to the server;
  - connect() raises OSError when nothing listens, TtrpcError(PERMISSION_DENIED) when the peer
    is another user (SO_PEERCRED).

    server = Server()
    server.register_service(events_pb2.DESCRIPTOR.services_by_name["Events"], servicer)
    await server.serve("/run/x.sock")        # or a listening socket; returns after shutdown()
    await server.shutdown()

  - the servicer has `async def Forward(self, request, context)` per method; it returns the
    response message (None for google.protobuf.Empty) or raises a corelib.errdefs error (or a
    TtrpcError), which the server answers with that error's status code;
  - `context.metadata` is {key: [values]}, `context.get(key)` the first value, `context.deadline`
    a time.monotonic() deadline or None (handlers past it are cancelled: DEADLINE_EXCEEDED);
  - unknown services and methods are answered UNIMPLEMENTED, frames over 4 MiB RESOURCE_EXHAUSTED,
    and peers of another user are refused.

Layout: protocol.py is the sans-IO core (bytes in, frames and messages out), services.py the
dispatch and error-to-status mapping, client.py/server.py the asyncio edges, blocking.py a
thread-based edge for processes that must stay small (the shim).
"""

from corelib.ttrpc.protocol import Code, ConnectionClosed, TtrpcError

__all__ = ["Client", "Code", "ConnectionClosed", "Server", "TtrpcError"]


def __getattr__(name: str) -> object:
    # Imported on first use, so users of the protocol core alone never load asyncio.
    if name == "Client":
        from corelib.ttrpc.client import Client

        return Client
    if name == "Server":
        from corelib.ttrpc.server import Server

        return Server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
