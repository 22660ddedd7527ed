"""What each cloud accepts: its regions and the rules for tags, labels and names."""

from __future__ import annotations

import re
from typing import Literal

Cloud = Literal["aws", "gcp"]

AWS_REGIONS: frozenset[str] = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
        "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
        "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
        "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
        "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1",
        "us-west-2",
    }
)  # fmt: skip
"""Commercial-partition regions: generated ARNs use the `aws` partition (not China or GovCloud)."""

GCP_REGIONS: frozenset[str] = frozenset(
    {
        "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2",
        "asia-northeast3", "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
        "australia-southeast1", "australia-southeast2", "europe-central2", "europe-north1",
        "europe-north2", "europe-southwest1", "europe-west1", "europe-west10", "europe-west12",
        "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
        "europe-west9", "me-central1", "me-central2", "me-west1", "northamerica-northeast1",
        "northamerica-northeast2", "northamerica-south1", "southamerica-east1",
        "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
        "us-west1", "us-west2", "us-west3", "us-west4",
    }
)  # fmt: skip

REGIONS: dict[Cloud, frozenset[str]] = {"aws": AWS_REGIONS, "gcp": GCP_REGIONS}

GCS_CONFIGURABLE_DUAL_REGIONS: dict[str, frozenset[str]] = {
    "US": frozenset(
        {"us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2",
         "us-west3", "us-west4"}
    ),
    "EU": frozenset(
        {"europe-central2", "europe-north1", "europe-southwest1", "europe-west1", "europe-west3",
         "europe-west4", "europe-west8", "europe-west9", "europe-west10", "europe-west12"}
    ),
    "ASIA": frozenset({"asia-east1", "asia-southeast1"}),
}  # fmt: skip
"""Location code -> the regions a configurable dual-region under it may pair, from the table
"Configurable dual-regions" of https://cloud.google.com/storage/docs/locations. Only the codes
with a Cloud KMS multi-region for the buckets' key (KMS_MULTI_REGIONS) are kept: the table's
AU, CA, DE, IN and IT pairs are left out."""

GCS_UNPAIRABLE: frozenset[frozenset[str]] = frozenset(
    {
        # "The EUROPE-NORTH1 and EUROPE-WEST4 dual-region pairing is only available as a
        # predefined dual-region" (EUR4), which takes no custom placement.
        frozenset({"europe-north1", "europe-west4"}),
        # The table lists these pairs under their own location codes (DE, IT) as well.
        frozenset({"europe-west3", "europe-west10"}),
        frozenset({"europe-west8", "europe-west12"}),
    }
)
"""Pairs inside one location code's list that the table does not offer as configurable under it."""

KMS_MULTI_REGIONS = {"US": "us", "EU": "europe", "ASIA": "asia"}
"""Dual-region location code -> the Cloud KMS multi-region whose keys may encrypt it. KMS has no
`eu`; the pulumi-gcp Firestore docstring: "For Firestore's eur3 multi-region, this corresponds
to Cloud KMS multi-region europe" (https://cloud.google.com/kms/docs/locations)."""


def gcp_dual_region(primary: str, secondary: str) -> str | None:
    """The location code (US, EU, ASIA) of a configurable dual-region bucket over the two
    regions; None when Cloud Storage offers no such pair (GCS_CONFIGURABLE_DUAL_REGIONS)."""
    if frozenset({primary, secondary}) in GCS_UNPAIRABLE or primary == secondary:
        return None
    return next(
        (
            code
            for code, regions in GCS_CONFIGURABLE_DUAL_REGIONS.items()
            if primary in regions and secondary in regions
        ),
        None,
    )


_AWS_TAG_TEXT = re.compile(r"[\w .:/=+\-@]*")
_GCP_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_GCP_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DNS_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})+")
URL_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def tag_problems(cloud: Cloud, key: str, value: str) -> list[str]:
    """Why `key: value` cannot be an AWS tag or a GCP label, if it cannot."""
    problems: list[str] = []
    if cloud == "aws":
        if not 1 <= len(key) <= 128 or not _AWS_TAG_TEXT.fullmatch(key):
            problems.append(
                f"tag key {key!r}: AWS allows 1-128 letters, digits, spaces and _ . : / = + - @"
            )
        if key.lower().startswith(("aws:", "drgen:")):
            problems.append(f"tag key {key!r}: the prefixes aws: and drgen: are reserved")
        if len(value) > 256 or not _AWS_TAG_TEXT.fullmatch(value):
            problems.append(
                f"tag {key!r}: AWS allows values of 0-256 letters, digits, spaces, _ . : / = + - @"
            )
        return problems
    if not _GCP_LABEL_KEY.fullmatch(key):
        problems.append(
            f"label key {key!r}: GCP wants lowercase letters, digits, _ and -, starting with a"
            " letter, at most 63 characters"
        )
    if key.startswith(("goog", "drgen-")):
        problems.append(f"label key {key!r}: the prefixes goog and drgen- are reserved")
    if not _GCP_LABEL_VALUE.fullmatch(value):
        problems.append(
            f"label {key!r}: GCP wants values of lowercase letters, digits, _ and -, at most 63"
            " characters"
        )
    return problems
