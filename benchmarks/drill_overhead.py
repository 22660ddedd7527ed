"""Print what verifying model artefacts costs over plainly downloading them (target: within 10%).

    python benchmarks/drill_overhead.py [--objects N] [--mib M]

Starts moto's S3 server on loopback, uploads N objects of M MiB with SHA-256 checksums, then
reads them all three times, alternating which goes first: a plain streamed download (chunks
discarded), and the drill's verification (one GetObject answering with the stored checksum,
the stream hashed by a second thread while the next chunks arrive). Prints the best wall time
of each and the CPU seconds this process spent (moto's server runs in it too), and the CPU of
SHA-256 alone over the same bytes: the part of the drill's cost that no transport can remove.
On a machine with a spare core the hashing overlaps the download; with none, the wall-time
overhead cannot fall below what hashing costs. Runs once; never loops.
"""

from __future__ import annotations

import argparse
import hashlib
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

        def plain() -> None:
            for obj in objects:
                stream: Any = s3.get_object(Bucket="drill-overhead", Key=obj.key)["Body"]
                for _ in stream.iter_chunks(2**20):
                    pass

        def drill() -> None:
            for obj in objects:
                assert verify(store, "drill-overhead", obj)[1] == "ok"

        def hashing() -> None:
            for _ in objects:
                hashlib.sha256(body).digest()

        timed: dict[str, list[tuple[float, float]]] = {"plain": [], "drill": [], "sha256": []}
        order = [(plain, "plain"), (drill, "drill")]
        for turn in range(3):
            for run, name in order if turn % 2 == 0 else order[::-1]:
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                timed[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        cpu = time.process_time()
        hashing()
        timed["sha256"].append((0.0, time.process_time() - cpu))
        plain_s, drill_s = (min(w for w, _ in timed[n]) for n in ("plain", "drill"))
        plain_cpu, drill_cpu, hash_cpu = (min(c for _, c in timed[n]) for n in timed)
        total = args.objects * args.mib
        print(f"{args.objects} objects, {total} MiB, moto S3 on loopback, {os.cpu_count()} CPUs")
        for label, wall, used in (
            ("plain download", plain_s, plain_cpu),
            ("drill verify", drill_s, drill_cpu),
        ):
            print(f"{label + ':':15} {wall:.2f} s ({total / wall:.0f} MiB/s), CPU {used:.2f} s")
        print(f"SHA-256 alone:  CPU {hash_cpu:.2f} s")
        print(f"overhead:       {100 * (drill_s - plain_s) / plain_s:+.1f}% (target within 10%)")
        beyond = drill_cpu - plain_cpu - hash_cpu
        print(f"CPU beyond hashing: {100 * beyond / plain_cpu:+.1f}% of the plain download's CPU")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
