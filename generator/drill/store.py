"""The one interface the clouds sit behind: an object store with versions, checksums and locks.

A new cloud is one module implementing `ObjectStore`; the component drills never name a cloud.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

CHUNK = 1024 * 1024
"""Streams are read in 1 MiB chunks and hashed as they arrive: memory stays flat at any size."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    version: str | None
    size: int
    modified: datetime.datetime


@dataclass(frozen=True)
class Checksum:
    """The checksum stored with an object: algorithm (hashlib name) and hex digest."""

    algorithm: str
    hex: str
    part_sizes: tuple[int, ...] = ()
    """For a multipart upload's composite checksum (the digest of its parts' digests, as S3
    keeps for SHA-256), the size of each part in order; empty for a full-object checksum."""


@dataclass(frozen=True)
class Reading:
    """An object version being read: the checksum stored with it, and its bytes."""

    checksum: Checksum | None
    chunks: Iterator[bytes]
    close: Callable[[], None]
    """Release the stream (needed when the chunks are never read)."""


@dataclass(frozen=True)
class Lock:
    mode: str
    """COMPLIANCE, GOVERNANCE (S3) or LOCKED / UNLOCKED (a GCS bucket's retention policy)."""
    until: datetime.datetime | None


@dataclass(frozen=True)
class Receipt:
    """Where the evidence went and how long it is locked."""

    url: str
    version: str | None
    lock: Lock | None


class ObjectStore(Protocol):
    """What the models and audit drills need from a cloud's object storage."""

    service: str

    def newest(self, bucket: str, exclude_prefix: str = "") -> list[StoredObject]:
        """Current objects of `bucket`, newest first."""
        ...

    def checksum(self, bucket: str, obj: StoredObject) -> Checksum | None:
        """The checksum stored with the object version, if any."""
        ...

    def chunks(self, bucket: str, obj: StoredObject) -> Iterator[bytes]:
        """The object version's bytes as a stream of chunks."""
        ...

    def read(self, bucket: str, obj: StoredObject) -> Reading:
        """The stored checksum and the bytes, in as few requests as the service allows."""
        ...

    def signed_url(self, bucket: str, obj: StoredObject, seconds: int) -> str:
        """A URL that reads this object version for `seconds`, for an engine that fetches its
        snapshot itself (Qdrant recovers from a URL)."""
        ...

    def lock(self, bucket: str, obj: StoredObject) -> Lock | None:
        """The retention lock holding this version, if any."""
        ...

    def try_delete(self, bucket: str, obj: StoredObject) -> str | None:
        """Ask to delete this exact version: the service's refusal, or None if it was deleted."""
        ...

    def put_evidence(self, bucket: str, key: str, data: bytes, sha256_hex: str) -> Receipt:
        """Add a report to the audit bucket with its SHA-256, under the bucket's lock."""
        ...


def b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def hex_to_b64(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


@dataclass(frozen=True)
class Streamed:
    size: int
    hex: str


PREFETCH = 4
"""Chunks read ahead while the previous ones are hashed: downloading and hashing overlap (both
release the GIL), and memory stays bounded at a few chunks."""


def prefetched(chunks: Iterator[bytes], depth: int = PREFETCH) -> Iterator[bytes]:
    """`chunks`, read by a helper thread up to `depth` chunks ahead of the consumer."""
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False  # the consumer has gone

    def read() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk):
                    return
            hand_over(None)
        except BaseException as error:  # handed to the consumer, raised there
            hand_over(error)

    reader = threading.Thread(target=read, name="drgen-drill-read", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


class _Crc32:
    """zlib's CRC-32 with hashlib's interface: S3's `ChecksumCRC32`, the AWS SDKs' default."""

    def __init__(self, data: bytes = b"") -> None:
        self.value = zlib.crc32(data)

    def update(self, data: bytes | memoryview) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")

    def hexdigest(self) -> str:
        return self.digest().hex()


def hasher(algorithm: str, data: bytes = b"") -> Any:
    """A fresh digest of `algorithm` (a hashlib name, or crc32)."""
    return _Crc32(data) if algorithm == "crc32" else hashlib.new(algorithm, data)


def stream_hash(
    chunks: Iterator[bytes],
    algorithm: str,
    check_deadline: Callable[[], object] | None = None,
    part_sizes: tuple[int, ...] = (),
) -> Streamed:
    """Hash a stream while reading it; nothing is kept but the digest. With `part_sizes`, the
    digest is the composite one: each part hashed on its own, then the digest of their digests."""
    whole = hasher(algorithm)
    parts: list[bytes] = []
    part = hasher(algorithm)
    left = part_sizes[0] if part_sizes else 0
    size = 0
    for chunk in prefetched(chunks):
        size += len(chunk)
        if not part_sizes:
            whole.update(chunk)
        else:
            view = memoryview(chunk)
            while view:
                if left == 0 and len(parts) + 1 < len(part_sizes):
                    parts.append(part.digest())
                    part = hasher(algorithm)
                    left = part_sizes[len(parts)]
                taken = view[:left] if left else view
                part.update(taken)
                left -= min(len(taken), left)
                view = view[len(taken) :]
        if check_deadline is not None:
            check_deadline()
    if not part_sizes:
        return Streamed(size, whole.hexdigest())
    parts.append(part.digest())
    return Streamed(size, hasher(algorithm, b"".join(parts)).hexdigest())
