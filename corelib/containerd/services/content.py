"""containerd.services.content.v1.Content: info, labels, streaming reads, and the streaming Write
protocol (STAT / WRITE / COMMIT on one bidirectional stream, resumable by ref)."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.events import content_pb2 as events
from corelib.api.containerd.services.content.v1 import content_pb2 as api
from corelib.api.containerd.services.content.v1 import content_pb2_grpc
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.metadata import timestamp
from corelib.containerd.metadata.content import ContentStore, Info
from corelib.containerd.services import lease_of, namespace_required
from corelib.errdefs import AlreadyExists, InvalidArgument, NotFound, WhaleError
from corelib.images import content as local
from corelib.images import digest as digests

LIST_BATCH = 100


class OutOfRange(WhaleError):
    grpc_code = 11


class ContentService(content_pb2_grpc.ContentServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Content"]
    add_to_server = staticmethod(content_pb2_grpc.add_ContentServicer_to_server)

    def __init__(self, store: ContentStore, exchange: Exchange):
        self.store = store
        self.exchange = exchange

    async def Info(self, request, context):  # noqa: N802
        return api.InfoResponse(info=_info(self.store.info(namespace_required(context), request.digest)))

    async def Update(self, request, context):  # noqa: N802
        info = self.store.update(namespace_required(context), request.info.digest, dict(request.info.labels),
                                 list(request.update_mask.paths))
        return api.UpdateResponse(info=_info(info))

    async def List(self, request, context):  # noqa: N802
        infos = [_info(i) for i in self.store.list(namespace_required(context), request.filters)]
        for start in range(0, len(infos), LIST_BATCH):
            yield api.ListContentResponse(info=infos[start:start + LIST_BATCH])

    async def Delete(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        self.store.delete(ns, request.digest)
        self.exchange.publish(ns, "/content/delete", events.ContentDelete(digest=request.digest))
        return Empty()

    async def Read(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        try:
            digests.check(request.digest)
        except digests.DigestError as e:
            raise InvalidArgument(f"{request.digest}: {e}") from None
        size_total = self.store.info(ns, request.digest).size
        offset = max(request.offset, 0)
        if offset > size_total:
            raise OutOfRange(f"read past object length {size_total} bytes")
        size = request.size if request.size > 0 and offset + request.size <= size_total else size_total - offset
        for chunk in self.store.read(ns, request.digest, offset, size):
            yield api.ReadContentResponse(offset=offset, data=chunk)
            offset += len(chunk)

    async def Status(self, request, context):  # noqa: N802
        try:
            status = self.store.status(namespace_required(context), request.ref)
        except NotFound as e:
            raise NotFound(f'could not get status for ref "{request.ref}": {e}') from None
        return api.StatusResponse(status=_status(status))

    async def ListStatuses(self, request, context):  # noqa: N802
        statuses = self.store.list_statuses(namespace_required(context), request.filters)
        return api.ListStatusesResponse(statuses=[_status(s) for s in statuses])

    async def Abort(self, request, context):  # noqa: N802
        self.store.abort(namespace_required(context), request.ref)
        return Empty()

    async def Write(self, request_iterator, context):  # noqa: N802
        ns = namespace_required(context)
        requests = aiter(request_iterator)
        req = await anext(requests, None)
        if req is None:
            return
        if not req.ref:
            raise InvalidArgument("first message must have a reference")
        ref, total, expected = req.ref, req.total, req.expected
        writer = self.store.writer(ns, ref, total, expected, lease_of(context))
        try:
            while True:
                if req.expected:
                    expected = req.expected
                    if self._exists(ns, expected):
                        writer.close()
                        self.store.abort(ns, ref)
                        raise AlreadyExists(f"blob with expected digest {expected} exists")
                if req.total > 0:
                    total = req.total
                yield self._step(writer, req, total, expected)
                if req.action == api.COMMIT:
                    return
                req = await anext(requests, None)
                if req is None:
                    return
        finally:
            writer.close()

    def _step(self, writer, req: api.WriteContentRequest, total: int, expected: str) -> api.WriteContentResponse:  # noqa: ANN001
        status = writer.status()
        msg = api.WriteContentResponse(action=req.action, offset=status.offset)
        if req.action == api.STAT:
            msg.digest, msg.total = writer.digest(), total
            msg.started_at.CopyFrom(timestamp(status.started_at))
            msg.updated_at.CopyFrom(timestamp(status.updated_at))
            return msg
        if req.offset > 0 and req.offset != status.offset:
            raise OutOfRange(f"write @{req.offset} must occur at current offset {status.offset}")
        if req.offset == 0 and status.offset > 0:
            writer.truncate(0)
            msg.offset = 0
        if req.data:
            msg.offset += writer.write(req.data)
        if req.action == api.COMMIT:
            writer.commit(total, expected, dict(req.labels))
        msg.digest = writer.digest()
        return msg

    def _exists(self, ns: str, digest: str) -> bool:
        try:
            self.store.info(ns, digest)
        except (NotFound, InvalidArgument):
            return False
        return True


def _info(info: Info) -> api.Info:
    return api.Info(digest=info.digest, size=info.size, created_at=timestamp(info.created_at),
                    updated_at=timestamp(info.updated_at), labels=info.labels)


def _status(status: local.Status) -> api.Status:
    return api.Status(ref=status.ref, offset=status.offset, total=status.total, expected=status.expected,
                      started_at=timestamp(status.started_at), updated_at=timestamp(status.updated_at))
