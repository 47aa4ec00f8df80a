"""containerd.services.version.v1.Version."""

from __future__ import annotations

from corelib.api.containerd.services.version.v1 import version_pb2, version_pb2_grpc

VERSION = "1.6.20-whalebone"
REVISION = "whalebone"


class VersionService(version_pb2_grpc.VersionServicer):
    descriptor = version_pb2.DESCRIPTOR.services_by_name["Version"]
    add_to_server = staticmethod(version_pb2_grpc.add_VersionServicer_to_server)

    async def Version(self, request, context):  # noqa: N802 - gRPC method names
        return version_pb2.VersionResponse(version=VERSION, revision=REVISION)
