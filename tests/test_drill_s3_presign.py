"""The URL the drill signs for Qdrant's recover call: a plain GET that any HTTP client can send.

Qdrant downloads a snapshot with a bare GET (no extra headers), so the URL must be SigV4 on the
bucket's regional host and sign `host` only. SigV2 is refused for buckets created after 24 June
2020 (https://docs.aws.amazon.com/AmazonS3/latest/API/specify-signature-version.html),
and a signed header the client does not send fails the signature
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
"""

from __future__ import annotations

import datetime
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest

from drgen.drill.aws import S3Store
from drgen.drill.store import StoredObject
from tests.drill_servers import aws_fixture, moto_endpoint_fixture  # noqa: F401 (fixtures)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class _Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def record(self, *call: str) -> None:
        self.calls.append(call)


def _store(region: str) -> S3Store:
    ctx: Any = _Calls()
    return S3Store(ctx, region)


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1", "eu-central-1"])
def test_presigned_url_is_sigv4_regional_and_signs_only_host(
    region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    store = _store(region)
    obj = StoredObject("passages/a.snapshot", "v1", 3, NOW)
    url = urllib.parse.urlsplit(store.signed_url("snaps", obj, 600))
    query = urllib.parse.parse_qs(url.query)
    assert url.hostname == f"snaps.s3.{region}.amazonaws.com"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["X-Amz-Credential"][0].split("/")[2] == region
    assert "x-amz-checksum-mode" not in {k.lower() for k in query}
    assert query["versionId"] == ["v1"]


def test_moto_serves_the_presigned_url_to_a_plain_get(aws: str) -> None:
    region = "eu-central-1"
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket="snaps", CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket="snaps", VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket="snaps", Key="c/a.snapshot", Body=b"abc", ChecksumAlgorithm="SHA256")
    store = _store(region)
    obj = StoredObject("c/a.snapshot", put["VersionId"], 3, NOW)
    url = store.signed_url("snaps", obj, 600)
    assert "X-Amz-SignedHeaders=host&" in url
    with urllib.request.urlopen(url, timeout=10) as answer:  # no headers beyond Host
        assert answer.read() == b"abc"
