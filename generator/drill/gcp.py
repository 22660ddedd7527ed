"""GCP behind the drill's interface: Cloud Storage (generations, hashes, locked retention).

Credentials come from Application Default Credentials; `STORAGE_EMULATOR_HOST` points the client
at a local emulator. GCS stores MD5 and CRC32C, not SHA-256: the drill compares against a
`sha256` metadata entry written at upload, or else against the object's MD5.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Generator
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
)


def explain(error: Exception) -> str:
    name = type(error).__name__
    if name == "DefaultCredentialsError":
        return "no Google credentials found (gcloud auth application-default login)"
    if name == "NotFound":
        return f"not found: {getattr(error, 'message', error)} (is the stack deployed?)"
    return f"{name}: {getattr(error, 'message', error)}"


def is_refusal(error: Exception) -> bool:
    """A delete refused because the object is under retention: 403 with reason
    retentionPolicyNotMet (https://cloud.google.com/storage/docs/json_api/v1/status-codes).
    A 403 for a missing permission (storage.objects.delete) is not: it proves nothing about the
    lock, so it is raised and reported as an error instead of counted as the evidence."""
    if type(error).__name__ != "Forbidden":
        return False
    reasons = {e.get("reason") for e in getattr(error, "errors", None) or [] if isinstance(e, dict)}
    return "retentionPolicyNotMet" in reasons or "retention" in str(error).lower()


class GcsStore:
    """Cloud Storage through the drill's `ObjectStore` interface."""

    service = "storage"

    def __init__(self, ctx: Context) -> None:
        try:
            import google.cloud.storage as storage
        except ImportError as error:
            raise DrillError(
                "the drill needs google-cloud-storage: pip install 'drgen[drill]'"
            ) from error
        self.ctx = ctx
        self.client: Any = storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT"))

    def _blob(self, bucket: str, obj: StoredObject) -> Any:
        generation = int(obj.version) if obj.version else None
        return self.client.bucket(bucket).get_blob(obj.key, generation=generation)

    def newest(self, bucket: str, exclude_prefix: str = "") -> list[StoredObject]:
        self.ctx.record("storage", "objects.list", bucket)
        found = [
            StoredObject(blob.name, str(blob.generation), blob.size or 0, blob.updated)
            for blob in self.client.list_blobs(bucket)
            if not (exclude_prefix and blob.name.startswith(exclude_prefix))
        ]
        return sorted(found, key=lambda o: (o.modified, o.key), reverse=True)

    def checksum(self, bucket: str, obj: StoredObject) -> Checksum | None:
        self.ctx.record("storage", "objects.get", f"{bucket}/{obj.key}")
        blob = self._blob(bucket, obj)
        sha256 = (blob.metadata or {}).get("sha256")
        if sha256:
            return Checksum("sha256", sha256.lower())
        if blob.md5_hash:
            return Checksum("md5", b64_to_hex(blob.md5_hash))
        return None  # composite objects carry only a CRC32C

    def chunks(self, bucket: str, obj: StoredObject) -> Generator[bytes, None, None]:
        self.ctx.record("storage", "objects.get(media)", f"{bucket}/{obj.key}")
        generation = int(obj.version) if obj.version else None
        blob = self.client.bucket(bucket).blob(obj.key, generation=generation)
        with blob.open("rb", chunk_size=CHUNK) as reader:
            while chunk := reader.read(CHUNK):
                yield chunk

    def read(self, bucket: str, obj: StoredObject) -> Reading:
        # The SHA-256 is custom metadata, only in the object's resource: two requests.
        chunks = self.chunks(bucket, obj)
        return Reading(self.checksum(bucket, obj), chunks, chunks.close)

    def signed_url(self, bucket: str, obj: StoredObject, seconds: int) -> str:
        self.ctx.record("storage", "signed URL (v4)", f"{bucket}/{obj.key}")
        generation = int(obj.version) if obj.version else None
        blob = self.client.bucket(bucket).blob(obj.key, generation=generation)
        # V4 signatures are valid for at most 7 days.
        expiration = datetime.timedelta(seconds=min(seconds, 7 * 86400))
        try:
            return str(
                blob.generate_signed_url(
                    version="v4", expiration=expiration, method="GET", generation=generation
                )
            )
        except AttributeError:
            pass  # credentials without a private key (a user's or a workload's): sign through IAM
        from google.auth.transport.requests import Request

        credentials = self.client._credentials
        try:
            credentials.refresh(Request())
        except Exception:  # anonymous or expired credentials: the message below says what to use
            credentials = None
        email = getattr(credentials, "service_account_email", None)
        if credentials is None or not email:
            raise DrillError(
                "cannot sign a URL for the snapshot with these Google credentials: use a"
                " service account (impersonation or a key) allowed iam.serviceAccounts.signBlob"
            )
        return str(
            blob.generate_signed_url(
                version="v4",
                expiration=expiration,
                method="GET",
                generation=generation,
                service_account_email=email,
                access_token=credentials.token,
            )
        )

    def lock(self, bucket: str, obj: StoredObject) -> Lock | None:
        self.ctx.record("storage", "buckets.get", bucket)
        holder = self.client.get_bucket(bucket)
        if not holder.retention_period:
            return None
        blob = self._blob(bucket, obj)
        mode = "LOCKED" if holder.retention_policy_locked else "UNLOCKED"
        return Lock(mode, blob.retention_expiration_time)

    def try_delete(self, bucket: str, obj: StoredObject) -> str | None:
        self.ctx.record("storage", "objects.delete", f"{bucket}/{obj.key}", "refusal-probe")
        generation = int(obj.version) if obj.version else None
        try:
            self.client.bucket(bucket).blob(obj.key, generation=generation).delete()
        except Exception as error:
            if is_refusal(error):
                return explain(error)
            raise
        return None

    def put_evidence(self, bucket: str, key: str, data: bytes, sha256_hex: str) -> Receipt:
        self.ctx.record("storage", "objects.insert", f"{bucket}/{key}", "evidence")
        blob = self.client.bucket(bucket).blob(key)
        blob.metadata = {"sha256": sha256_hex}
        # The upload is checked end to end by its MD5; the bucket's locked policy then holds it.
        blob.upload_from_string(data, content_type="application/octet-stream", checksum="md5")
        blob.reload()
        until = blob.retention_expiration_time
        return Receipt(
            f"gs://{bucket}/{key}", str(blob.generation), Lock("LOCKED", until) if until else None
        )
