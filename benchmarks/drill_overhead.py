"""Print what verifying model artefacts costs over plainly downloading them (target: within 10%).

    python benchmarks/drill_overhead.py [--objects N] [--mib M]

Starts moto's S3 server on loopback, uploads N objects of M MiB with SHA-256 checksums, then
reads them all twice, alternating which goes first: a plain streamed download (chunks
discarded), and the drill's verification (HeadObject for the stored checksum, the same stream
hashed while reading). Runs once; never loops.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from typing import Any


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Calls:
    """Stands in for a drill run's context: the store only records its calls."""

    def record(self, *call: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="benchmark",
        AWS_SECRET_ACCESS_KEY="benchmark",
    )
    try:
        from drgen.drill.aws import S3Store, client
        from drgen.drill.models import verify

        s3 = client("s3", "us-east-1")
        s3.create_bucket(Bucket="drill-overhead")
        body = os.urandom(args.mib * 2**20)
        for n in range(args.objects):
            s3.put_object(
                Bucket="drill-overhead", Key=f"model-{n}.bin", Body=body, ChecksumAlgorithm="SHA256"
            )
        store = S3Store(_Calls(), "us-east-1")  # type: ignore[arg-type]
        objects = store.newest("drill-overhead")

        def plain() -> float:
            started = time.perf_counter()
            for obj in objects:
                stream: Any = s3.get_object(Bucket="drill-overhead", Key=obj.key)["Body"]
                for _ in stream.iter_chunks(2**20):
                    pass
            return time.perf_counter() - started

        def drill() -> float:
            started = time.perf_counter()
            for obj in objects:
                assert verify(store, "drill-overhead", obj)[1] == "ok"
            return time.perf_counter() - started

        first_plain, first_drill = plain(), drill()
        second_drill, second_plain = drill(), plain()
        plain_s = min(first_plain, second_plain)
        drill_s = min(first_drill, second_drill)
        total = args.objects * args.mib
        print(f"{args.objects} objects, {total} MiB, moto S3 on loopback")
        print(f"plain download: {plain_s:.2f} s ({total / plain_s:.0f} MiB/s)")
        print(f"drill verify:   {drill_s:.2f} s ({total / drill_s:.0f} MiB/s)")
        print(f"overhead:       {100 * (drill_s - plain_s) / plain_s:+.1f}% (target within 10%)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
