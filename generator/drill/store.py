"""The one interface the clouds sit behind: an object store with versions, checksums and locks.

A new cloud is one module implementing `ObjectStore`; the component drills never name a cloud.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

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
    composite: bool = False
    """A multipart upload's checksum of part checksums, not of the object's bytes."""


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


def stream_hash(chunks: Iterator[bytes], algorithm: str, check_deadline: object = None) -> Streamed:
    """Hash a stream while reading it; nothing is kept but the digest."""
    digest = hashlib.new(algorithm)
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if callable(check_deadline):
            check_deadline()
    return Streamed(size, digest.hexdigest())
