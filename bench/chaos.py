"""`make chaos`: the long fault scenarios, each bounded in time and count, loopback only.

Prints, per scenario: sent, acknowledged (answered 2xx), landed (acknowledged items found in a final place:
SB_QUEUES, SB_ANSWERS, SB_DROPPED, SB_RECORDS or SB_DLQ, by item id), duplicated (extra copies across all of
them), lost (acknowledged, found nowhere). Exit status 1 if any scenario lost or doubled anything.

    python -m bench.chaos                 # all scenarios, full sizes (~10 min on 2 cores)
    python -m bench.chaos --only a,c      # some of them
    python -m bench.chaos --scale 0.1     # smaller counts, for a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import chaos_delivery
from bench import chaos_scenarios as sc
from bench.chaos_lib import TABLE_HEAD, Result

SCENARIOS = {
    "a": ("nats-server SIGKILLed twice under load", lambda root, s: sc.broker_kill(root, n=int(20_000 * s), kills=2)),
    "b1": ("enrich and route workers SIGKILLed (separate processes)", lambda root, s: sc.worker_kills(root, n=int(5_000 * s), rounds=2)),
    "b2": ("switchboard up SIGKILLed", lambda root, s: sc.up_kill(root, n=int(3_000 * s), kills=1)),
    "c": ("poison items", lambda root, s: sc.poison(root, n=int(2_000 * s), poisoned=3)),
    "d": ("3-node cluster, leader SIGKILLed", lambda root, s: sc.cluster_kill(root, n=int(5_000 * s))),
    "e": ("deliver SIGKILLed twice, the tool answering 429/500 for a while",
          lambda root, s: chaos_delivery.delivery_kills(root, n=int(1_000 * s), kills=2)),
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}, load avg {load:.1f} at start"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario keys: " + ", ".join(SCENARIOS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every scenario's count")
    parser.add_argument("--keep", action="store_true", help="keep the stores and logs (printed path)")
    args = parser.parse_args()
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {unknown}")
    root = Path(tempfile.mkdtemp(prefix="switchboard-chaos-"))
    print(f"make chaos on {machine()}; work dir {root}", flush=True)
    results: list[Result] = []
    started = time.monotonic()
    for key in keys:
        title, run = SCENARIOS[key]
        print(f"\n({key}) {title}", flush=True)
        try:
            result = asyncio.run(run(root / key, args.scale))
        except Exception as exc:  # noqa: BLE001 - report and go on with the next scenario
            result = Result(f"({key}) {title}", 0, 0, 0, 0, 0, 0.0, f"ERROR {type(exc).__name__}: {str(exc)[:300]!r}")
        finally:
            sc.cleanup()
        print(result.row(), flush=True)
        results.append(result)
    print(f"\n{TABLE_HEAD}")
    for r in results:
        print(r.row())
    print(f"\ntotal {time.monotonic() - started:.0f} s on {machine()}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
