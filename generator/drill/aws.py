"""AWS behind the drill's interface: S3 (versions, ChecksumSHA256, object lock) through boto3.

Credentials and endpoints come from boto3's standard chain (environment, ~/.aws, instance or
task role; `AWS_ENDPOINT_URL` for a local S3 API).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from drgen.drill.base import Context, DrillError
from drgen.drill.store import (
    CHUNK,
    Checksum,
    Lock,
    Reading,
    Receipt,
    StoredObject,
    b64_to_hex,
    hex_to_b64,
)


def client(service: str, region: str, **settings: Any) -> Any:
    """A boto3 client; boto3 is the `drill` extra's, imported only when a drill runs."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:
        raise DrillError("the drill needs boto3: pip install 'drgen[drill]'") from error
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        # The drill hashes every byte itself; botocore validating again would double the work.
        response_checksum_validation="when_required",
        request_checksum_calculation="when_required",
        **settings,
    )
    # A fresh session per client: credentials are resolved now, from the chain as it stands.
    return boto3.session.Session().client(service, region_name=region, config=config)


def explain(error: Exception) -> str:
    """A boto error as one line a person can act on."""
    name = type(error).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials found (environment, ~/.aws, or an instance or task role)"
    if name == "EndpointConnectionError":
        return f"cannot reach the AWS endpoint: {error}"
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code, message = err.get("Code", name), err.get("Message", "")
        if code in ("NoSuchBucket", "ResourceNotFoundException", "TableNotFoundException"):
            return f"{code}: {message} (is the stack deployed in this region?)"
        return f"{code}: {message}"
    return f"{name}: {error}"


def is_refusal(error: Exception) -> bool:
    """A delete refused by object lock. S3 answers it with AccessDenied whose message names the
    lock ("Access Denied because object protected by object lock."; as quoted against real S3
    in https://github.com/versity/versitygw/issues/1330 and #1565). A bare AccessDenied is an
    IAM or bucket policy refusal: it proves nothing about the lock, so it is not counted."""
    response = getattr(error, "response", None)
    err = response.get("Error", {}) if isinstance(response, dict) else {}
    code, message = err.get("Code"), str(err.get("Message", "")).lower()
    return code in ("AccessDenied", "InvalidRequest") and "object lock" in message


CHECKSUMS = (("sha256", "ChecksumSHA256"), ("crc32", "ChecksumCRC32"))
"""Checksums S3 stores that the drill recomputes while streaming, in order of preference."""


def _version(obj: StoredObject) -> dict[str, str]:
    """The version argument: none for an unversioned bucket's objects (listed as "null")."""
    return {"VersionId": obj.version} if obj.version and obj.version != "null" else {}


def _ask_for_checksums(request: Any, **_: Any) -> None:
    request.headers["x-amz-checksum-mode"] = "ENABLED"


class S3Store:
    """One region's S3 through the drill's `ObjectStore` interface."""

    service = "s3"

    def __init__(self, ctx: Context, region: str) -> None:
        self.ctx = ctx
        self.region = region
        self.s3 = client("s3", region)
        # GetObject asked for the checksum headers with ChecksumMode would have botocore hash
        # the body again to validate it; the drill hashes every byte itself (prefetched, under
        # its deadline), so its reads ask S3 for the headers directly.
        self.s3.meta.events.register("before-sign.s3.GetObject", _ask_for_checksums)
        self._presigner: Any = None

    def newest(self, bucket: str, exclude_prefix: str = "") -> list[StoredObject]:
        self.ctx.record("s3", "ListObjectVersions", bucket)
        found: list[StoredObject] = []
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            for version in page.get("Versions", []):
                key = version["Key"]
                if not version["IsLatest"] or (exclude_prefix and key.startswith(exclude_prefix)):
                    continue
                found.append(
                    StoredObject(
                        key, version["VersionId"], version["Size"], version["LastModified"]
                    )
                )
        return sorted(found, key=lambda o: (o.modified, o.key), reverse=True)

    def checksum(self, bucket: str, obj: StoredObject) -> Checksum | None:
        self.ctx.record("s3", "HeadObject", f"{bucket}/{obj.key}")
        head = self.s3.head_object(
            Bucket=bucket, Key=obj.key, **_version(obj), ChecksumMode="ENABLED"
        )
        return self._stored_checksum(bucket, obj, head)

    def _stored_checksum(
        self, bucket: str, obj: StoredObject, answer: dict[str, Any]
    ) -> Checksum | None:
        """The checksum in a HeadObject or GetObject answer, with part sizes if composite."""
        # SHA-256 when the uploader asked for it; else CRC-32, the AWS SDKs' default since 2025.
        algorithm, value = next(
            ((name, answer[field]) for name, field in CHECKSUMS if answer.get(field)), ("", "")
        )
        if not value:
            return None
        digest, _, suffix = value.partition("-")
        kind = answer.get("ChecksumType")
        if kind == "FULL_OBJECT":
            return Checksum(algorithm, b64_to_hex(digest))
        # No type (S3-compatible stores, older answers): an object uploaded in one request has
        # an ETag without the "-<parts>" suffix that every multipart upload's ETag carries.
        if kind is None and not suffix and "-" not in str(answer.get("ETag", "")).strip('"'):
            return Checksum(algorithm, b64_to_hex(digest))
        # A multipart upload: S3 keeps the digest of the parts' digests, so the drill needs each
        # part's size to hash the stream the same way. HeadObject with PartNumber gives both;
        # an object that was not uploaded in parts answers without PartsCount.
        sizes: list[int] = []
        count = 1
        while len(sizes) < count:
            self.ctx.record("s3", "HeadObject", f"{bucket}/{obj.key}")
            part = self.s3.head_object(
                Bucket=bucket, Key=obj.key, **_version(obj), PartNumber=len(sizes) + 1
            )
            if part.get("PartsCount") is None and not suffix and kind != "COMPOSITE":
                return Checksum(algorithm, b64_to_hex(digest))
            count = int(part.get("PartsCount") or 1)
            sizes.append(int(part["ContentLength"]))
        return Checksum(algorithm, b64_to_hex(digest), part_sizes=tuple(sizes))

    def read(self, bucket: str, obj: StoredObject) -> Reading:
        # One GetObject answers with the stored checksum and the bytes (no HeadObject first).
        self.ctx.record("s3", "GetObject", f"{bucket}/{obj.key}")
        answer = self.s3.get_object(Bucket=bucket, Key=obj.key, **_version(obj))
        body = answer["Body"]
        try:
            checksum = self._stored_checksum(bucket, obj, answer)
        except BaseException:
            body.close()
            raise

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return Reading(checksum, chunks(), body.close)

    def chunks(self, bucket: str, obj: StoredObject) -> Iterator[bytes]:
        self.ctx.record("s3", "GetObject", f"{bucket}/{obj.key}")
        body = self.s3.get_object(Bucket=bucket, Key=obj.key, **_version(obj))["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def signed_url(self, bucket: str, obj: StoredObject, seconds: int) -> str:
        # Signed locally with the caller's credentials (no request); SigV4 allows 7 days.
        # A client of its own: the reading client's before-sign hook would also fire here and
        # sign x-amz-checksum-mode, a header the engine's plain GET never sends (403), and
        # without signature_version="s3v4" botocore presigns some regions with SigV2 on the
        # global host, which S3 refuses for buckets created after June 2020
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/specify-signature-version.html).
        self.ctx.record("s3", "presign GetObject", f"{bucket}/{obj.key}")
        if self._presigner is None:
            self._presigner = client(
                "s3", self.region, signature_version="s3v4", s3={"addressing_style": "virtual"}
            )
        params = {"Bucket": bucket, "Key": obj.key, **_version(obj)}
        url: str = self._presigner.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=min(seconds, 7 * 86400)
        )
        return url

    def lock(self, bucket: str, obj: StoredObject) -> Lock | None:
        # HeadObject returns the version's lock (ObjectLockMode, ObjectLockRetainUntilDate) to a
        # caller allowed s3:GetObjectRetention, whether set on the object or by the bucket default.
        self.ctx.record("s3", "HeadObject", f"{bucket}/{obj.key}")
        head = self.s3.head_object(Bucket=bucket, Key=obj.key, **_version(obj))
        mode = head.get("ObjectLockMode")
        return Lock(mode, head.get("ObjectLockRetainUntilDate")) if mode else None

    def try_delete(self, bucket: str, obj: StoredObject) -> str | None:
        self.ctx.record("s3", "DeleteObject", f"{bucket}/{obj.key}", "refusal-probe")
        try:
            self.s3.delete_object(Bucket=bucket, Key=obj.key, **_version(obj))
        except Exception as error:
            if is_refusal(error):
                return explain(error)
            if getattr(error, "response", None):
                raise DrillError(
                    f"the delete of the locked record was refused, but not by object lock"
                    f" ({explain(error)}): the refusal proves nothing about immutability"
                    " (the drill's role needs s3:DeleteObjectVersion for the probe)"
                ) from None
            raise
        return None

    def put_evidence(self, bucket: str, key: str, data: bytes, sha256_hex: str) -> Receipt:
        self.ctx.record("s3", "PutObject", f"{bucket}/{key}", "evidence")
        # S3 verifies the SHA-256 on arrival; the bucket's default retention locks the version.
        put = self.s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=hex_to_b64(sha256_hex),
            Metadata={"sha256": sha256_hex},
        )
        self.ctx.record("s3", "HeadObject", f"{bucket}/{key}")
        head = self.s3.head_object(Bucket=bucket, Key=key, VersionId=put.get("VersionId"))
        mode = head.get("ObjectLockMode")
        until: datetime.datetime | None = head.get("ObjectLockRetainUntilDate")
        return Receipt(
            f"s3://{bucket}/{key}", put.get("VersionId"), Lock(mode, until) if mode else None
        )
