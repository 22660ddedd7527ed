"""A gRPC server on loopback standing in for a Google API the tests cannot reach.

The drill's real client library talks to it over a real channel: every request is decoded from
the wire by its documented proto type (a field the API does not have cannot be sent) and kept
for the test to read; each method's handler answers as the API reference says the service does,
including its errors, and long-running operations complete after a set number of polls through
google.longrunning.Operations/GetOperation
(https://cloud.google.com/bigtable/docs/reference/admin/rpc/google.longrunning,
https://cloud.google.com/firestore/docs/reference/rpc/google.longrunning).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

Handler = Callable[[Any, grpc.ServicerContext], Any]


def _codec(message_type: Any) -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    if hasattr(message_type, "deserialize"):  # a proto-plus type
        return message_type.deserialize, message_type.serialize
    return message_type.FromString, lambda message: message.SerializeToString()


def packed(message: Any) -> any_pb2.Any:
    """A proto-plus or protobuf message packed into google.protobuf.Any."""
    holder = any_pb2.Any()
    holder.Pack(type(message).pb(message) if hasattr(type(message), "pb") else message)
    return holder


@dataclass
class PendingOperation:
    polls_left: int
    response: Any
    metadata: Any = None
    error: tuple[grpc.StatusCode, str] | None = None
    on_cancel: Callable[[], object] | None = None
    """What the service does when the operation is cancelled (e.g. delete what it created)."""
    cancellable: bool = True
    """False: a cancel comes too late and the operation completes despite it."""


@dataclass
class FakeApi:
    """Handlers by full method name (`/google.bigtable.admin.v2.BigtableTableAdmin/ListBackups`)."""

    requests: list[tuple[str, Any]] = field(default_factory=list)
    operations: dict[str, PendingOperation] = field(default_factory=dict)
    _handlers: dict[str, grpc.RpcMethodHandler] = field(default_factory=dict)
    _server: Any = None
    host: str = ""

    def unary(self, method: str, request: Any, response: Any, handler: Handler) -> None:
        decode, _ = _codec(request)
        _, encode = _codec(response)
        self._handlers[method] = grpc.unary_unary_rpc_method_handler(
            self._kept(method, handler), request_deserializer=decode, response_serializer=encode
        )

    def stream(
        self, method: str, request: Any, response: Any, handler: Callable[..., Iterator[Any]]
    ) -> None:
        decode, _ = _codec(request)
        _, encode = _codec(response)
        self._handlers[method] = grpc.unary_stream_rpc_method_handler(
            self._kept(method, handler), request_deserializer=decode, response_serializer=encode
        )

    def _kept(self, method: str, handler: Handler) -> Handler:
        def answer(request: Any, context: grpc.ServicerContext) -> Any:
            self.requests.append((method.rsplit("/", 1)[1], request))
            return handler(request, context)

        return answer

    def called(self, operation: str) -> list[Any]:
        """The requests of one method, in order."""
        return [request for name, request in self.requests if name == operation]

    def operation(self, name: str, pending: PendingOperation) -> operations_pb2.Operation:
        """A new long-running operation; GetOperation completes it after `polls_left` polls."""
        self.operations[name] = pending
        return self._state(name)

    def _state(self, name: str) -> operations_pb2.Operation:
        pending = self.operations[name]
        done = pending.polls_left <= 0
        state = operations_pb2.Operation(name=name, done=done)
        if pending.metadata is not None:
            state.metadata.CopyFrom(packed(pending.metadata))
        if done and pending.error:
            state.error.code, state.error.message = pending.error[0].value[0], pending.error[1]
        elif done:
            state.response.CopyFrom(packed(pending.response))
        return state

    def _get_operation(
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        if request.name not in self.operations:
            context.abort(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
        self.operations[request.name].polls_left -= 1
        return self._state(request.name)

    def _cancel_operation(
        self, request: operations_pb2.CancelOperationRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        if request.name not in self.operations:
            context.abort(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
        # Best effort: an operation that has ended, or ends despite the request, keeps its
        # result; a cancelled one ends with error code CANCELLED (google.longrunning
        # Operations.CancelOperation, https://cloud.google.com/bigtable/docs/reference/admin/rpc/google.longrunning).
        pending = self.operations[request.name]
        if pending.polls_left <= 0:
            return empty_pb2.Empty()
        pending.polls_left = 0
        if pending.cancellable:
            pending.error = (grpc.StatusCode.CANCELLED, "cancelled")
            if pending.on_cancel is not None:
                pending.on_cancel()
        return empty_pb2.Empty()

    def start(self) -> str:
        self.unary(
            "/google.longrunning.Operations/GetOperation",
            operations_pb2.GetOperationRequest,
            operations_pb2.Operation,
            self._get_operation,
        )
        self.unary(
            "/google.longrunning.Operations/CancelOperation",
            operations_pb2.CancelOperationRequest,
            empty_pb2.Empty,
            self._cancel_operation,
        )
        handlers = self._handlers

        class Routes(grpc.GenericRpcHandler):
            def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
                return handlers.get(details.method)  # type: ignore[attr-defined]

        self._server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers([Routes()])
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.host = f"127.0.0.1:{port}"
        return self.host

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
