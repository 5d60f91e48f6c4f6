"""`make bench`: Switchboard's ingest against a bare Starlette route that awaits one JetStream publish,
plus end-to-end latency from POST to the item being in a team queue.

    .venv/bin/python -m bench.run            # ~2.5 min; one JSON line on stdout, a table on stderr
    .venv/bin/python -m bench.run --quick    # smoke run (short windows, one round)

Throughput phase: for each round, baseline (bench/baseline_app.py), `switchboard ingest` and `switchboard up`
each get a fresh nats-server, are driven closed-loop by the same generator (bench/loadgen.py, own process)
for a warm-up plus a measured window, and are stopped. Rounds alternate B, I, U, B, I, U; medians are reported.
Latency phase: a fresh nats-server + `switchboard up`, open-loop at a fixed rate, latency from each request's
scheduled send time to its item id appearing on sb.queue.> (or answers/dropped), with an exact ledger.

Pinning (2+ CPUs): the server under test on CPU 1; this runner, the generator and nats-server on CPU 0.
`switchboard_rps` is `switchboard ingest` (the same work as the baseline: receive, publish, await the ack,
202); `up_rps` (ingest while enrich and route share its process and core) is reported alongside.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.loadgen import median
from bench.readiness import started_in, up_ready
from services.cli.demo import read_env_file

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "bench" / "reports"
EXAMPLE_CONFIG = ROOT / "examples" / "config"
DEMO_ENV = ROOT / "examples" / "demo.env"
SB = str(Path(sys.executable).parent / "switchboard")
TARGET_RATIO = 0.85

SERVER_CPUS = {1}
CLIENT_CPUS = {0}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def demo_env() -> dict[str, str]:
    """The demo secrets, plus PYTHONPATH = this checkout: the `switchboard` script of a shared virtualenv (an
    editable install of another checkout, e.g. from a git worktree) then runs the code under test."""
    return {**read_env_file(DEMO_ENV),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return int(resp.status)
    except OSError:
        return 0


@dataclass
class Server:
    kind: str  # baseline | ingest | up
    port: int
    process: subprocess.Popen  # type: ignore[type-arg]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(kind: str, nats_url: str, workdir: Path, env: dict[str, str], pin: bool, timeout: float = 90.0,
                 extra: list[str] | None = None, enrich_ready: int = 0) -> Server:
    """`enrich_ready`: for `up`, also wait for that many enrich stages (worker processes) to have started."""
    from services.common.embedded import free_port

    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{kind}.log"
    if kind == "baseline":
        cmd = [sys.executable, "-m", "bench.baseline_app", "--nats", nats_url, "--port", str(port)]
        ready_url = f"http://127.0.0.1:{port}/healthz"
    else:
        cmd = [SB, kind, "--config", str(EXAMPLE_CONFIG), "--nats", nats_url, "--port", str(port), "--data", str(workdir / "data"),
               *(extra or [])]
        ready_url = f"http://127.0.0.1:{port}/readyz"
    every_cpu = set(range(os.cpu_count() or 1))
    preexec = (lambda: os.sched_setaffinity(0, SERVER_CPUS if pin else every_cpu)) if can_pin() else None
    with open(log_path, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, preexec_fn=preexec)  # noqa: PLW1509
    server = Server(kind, port, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        if _get(ready_url) == 200:
            # `up`: also wait for every consumer loop (enrich has loaded its model), and for N enrich processes
            if kind != "up" or up_ready(started_in(log_path), enrich_ready):
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{kind} not ready after {timeout}s: {log_path.read_text()[-2000:]}")


def run_loadgen(job: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"], input=json.dumps(job), capture_output=True, text=True,
        env=env, cwd=ROOT, timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux /proc), for CPU µs per request: robust to a shared, noisy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(), "kernel": platform.release()}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description="Switchboard ingest vs bare Starlette+JetStream")
    p.add_argument("--rounds", type=int, default=3, help="throughput rounds (each runs baseline, ingest, up); req/s are their medians")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per throughput run")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per throughput run (discarded)")
    p.add_argument("--conns", type=int, default=50, help="closed-loop connections")
    p.add_argument("--latency-seconds", type=float, default=15.0, help="open-loop sending time")
    p.add_argument("--latency-rate", type=float, default=0.0, help="second open-loop rate in items/s (0 = auto: 50%% "
                   "of the pipeline capacity measured with up's default enrich processes); the first is always 50/s")
    p.add_argument("--probe-items", type=int, default=400, help="burst size of the pipeline capacity probe")
    p.add_argument("--latency-conns", type=int, default=64, help="open-loop connection pool")
    p.add_argument("--no-up", action="store_true", help="skip `switchboard up` throughput runs")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument("--latency-only", action="store_true", help="skip the throughput phase")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 3 s windows, 5 s latency phase")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server logs, nats stores)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.latency_seconds = 1, 3.0, 1.0, 5.0
    return args


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    from services.common.embedded import EmbeddedNats

    args = parse(argv)
    console = Console(stderr=True)
    t_start = time.monotonic()
    pin = can_pin() and not args.no_pin
    if pin:
        os.sched_setaffinity(0, CLIENT_CPUS)  # nats-server and the generator inherit CPU 0
    env = {**os.environ, **demo_env()}
    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-"))
    targets = ["baseline", "ingest"] + ([] if args.no_up else ["up"])
    per_run_requests = int(20000 * (args.warmup + args.duration))
    log(f"bench: {machine()} pinned={pin} conns={args.conns} warmup={args.warmup}s duration={args.duration}s "
        f"rounds={args.rounds} tmp={tmp}")
    runs: list[dict[str, Any]] = []

    def fresh(name: str) -> EmbeddedNats:
        return EmbeddedNats(tmp / name / "nats").start()

    try:
        for rnd in range(args.rounds if not args.latency_only else 0):
            for kind in targets:
                name = f"r{rnd}-{kind}"
                nats = fresh(name)
                try:
                    server = start_server(kind, nats.url, tmp / name, env, pin)
                    try:
                        job = {
                            "mode": "closed", "host": "127.0.0.1", "port": server.port, "conns": args.conns,
                            "warmup_s": args.warmup, "duration_s": args.duration, "requests": per_run_requests,
                            "prefix": f"{name}-{int(time.time())}", "cpus": sorted(CLIENT_CPUS) if pin else None,
                            "nats_url": nats.url if kind == "up" else None,
                        }
                        cpu0 = cpu_seconds(server.process.pid)
                        result = run_loadgen(job, env, timeout=args.warmup + args.duration + 120)
                        cpu1 = cpu_seconds(server.process.pid)
                        result["server_cpu_us_per_req"] = (
                            1e6 * (cpu1 - cpu0) / result["sent_total"] if cpu0 is not None and cpu1 is not None
                            and result["sent_total"] else None
                        )
                    finally:
                        server.stop()
                finally:
                    nats.stop()
                result.update(kind=kind, round=rnd)
                runs.append(result)
                bad = sum(v for k, v in result["statuses"].items() if k != "202") + result["errors"]
                landed = f" landed {result['landed_rps']:.0f}/s" if result.get("landed_rps") is not None else ""
                log(f"  round {rnd + 1} {kind:<8} {result['rps']:>8.0f} req/s  ingest p50 {result['ingest_p50_ms']:.1f} ms "
                    f"p99 {result['ingest_p99_ms']:.1f} ms  cpu/req {result['server_cpu_us_per_req'] or 0:.0f} us  non-202 {bad}{landed}  gen cpu {result['loadgen_cpu_util']:.0%}"
                    + ("  POOL EXHAUSTED" if result["exhausted"] else ""))

        def med(kind: str, key: str = "rps") -> float | None:
            values = [r[key] for r in runs if r["kind"] == kind and r.get(key) is not None]
            return median(values) if values else None

        baseline_rps, ingest_rps, up_rps = med("baseline"), med("ingest"), med("up")
        up_landed = med("up", "landed_rps")

        # Pipeline phases (bench/pipeline.py): capacity with 1 and 2 enrich processes, latency at stated loads
        from bench import pipeline as pl

        caps = {}
        for workers in (1, 2):
            nats = fresh(f"cap{workers}")
            try:
                caps[workers] = pl.capacity(workers, nats.url, tmp / f"cap{workers}", env, args.probe_items)
            finally:
                nats.stop()
            c = caps[workers]
            log(f"  pipeline {workers} enrich process(es): {c['landed']}/{c['items']} landed in {c['span_s']:.1f}s = "
                f"{c['capacity_rps']:.0f} items/s, {c['items_per_cpu_s'] or 0:.0f} items per CPU-second of up + workers")
        from services.worker_processes import default_count

        cap = caps[min(default_count(), 2)]["capacity_rps"]
        half = args.latency_rate or max(5.0, round(pl.LATENCY_FRACTION * cap))
        nats = fresh("latency")
        try:
            lat_runs = pl.latency([pl.LATENCY_FIXED_RATE, half], nats.url, tmp / "latency", env, args.latency_seconds,
                                  args.latency_conns)
        finally:
            nats.stop()
        for r in lat_runs:
            b = r["ledger"]
            log(f"  latency  {r['rate']:.0f} items/s open-loop for {args.latency_seconds:.0f}s: sent {b['sent']} landed "
                f"{b['landed']} missing {b['missing']}  e2e p50 {r['e2e_p50_ms']} p99 {r['e2e_p99_ms']} ms  "
                f"max send lag {r['max_send_lag_ms']:.1f} ms" + ("  VOID" if r["void"] else ""))
        at50, lat = lat_runs
        books, lats, rate = lat["ledger"], lat, lat["rate"]
        judge_speed = pl.judge_items_per_cpu_s()
        log(f"  judge    {judge_speed['items_per_cpu_s']:.0f} items per CPU-second ({judge_speed['encoder']}, "
            f"{judge_speed['texts']}, batches of 64)")

        ratio = ingest_rps / baseline_rps if ingest_rps and baseline_rps else None
        wall = time.monotonic() - t_start
        report: dict[str, Any] = {
            "switchboard_rps": round(ingest_rps, 1) if ingest_rps else None,
            "baseline_rps": round(baseline_rps, 1) if baseline_rps else None,
            "ratio": round(ratio, 3) if ratio else None,
            "p50_ms": _r(lats["e2e_p50_ms"]),
            "p99_ms": _r(lats["e2e_p99_ms"]),
            "up_rps": _r(up_rps),
            "up_ratio": round(up_rps / baseline_rps, 3) if up_rps and baseline_rps else None,
            "up_landed_rps": _r(up_landed),
            "pipeline_capacity_rps": _r(cap),
            "pipeline_1": _r(caps[1]["capacity_rps"]),
            "pipeline_2": _r(caps[2]["capacity_rps"]),
            "pipeline_1_items_per_cpu_s": _r(caps[1]["items_per_cpu_s"]),
            "pipeline_2_items_per_cpu_s": _r(caps[2]["items_per_cpu_s"]),
            "judge_items_per_cpu_s": _r(judge_speed["items_per_cpu_s"]),
            "p50_ms_at_50": _r(at50["e2e_p50_ms"]),
            "p99_ms_at_50": _r(at50["e2e_p99_ms"]),
            "void_at_50": at50["void"],
            "ingest_p99_ms": _r(med("ingest", "ingest_p99_ms")),
            "baseline_cpu_us_per_req": _r(med("baseline", "server_cpu_us_per_req")),
            "ingest_cpu_us_per_req": _r(med("ingest", "server_cpu_us_per_req")),
            "up_cpu_us_per_req": _r(med("up", "server_cpu_us_per_req")),
            "cpu_ratio": (round(med("baseline", "server_cpu_us_per_req") / med("ingest", "server_cpu_us_per_req"), 3)
                          if med("baseline", "server_cpu_us_per_req") and med("ingest", "server_cpu_us_per_req") else None),
            "baseline_p99_ms": _r(med("baseline", "ingest_p99_ms")),
            "e2e_max_ms": _r(lats["e2e_max_ms"]),
            "latency_ingest_p99_ms": _r(lats["ingest_p99_ms"]),
            "pipeline_runs": caps,
            "judge": judge_speed,
            "latency_rate": rate,
            "sent": books["sent"],
            "landed": books["landed"],
            "missing": books["missing"],
            "ledger": books,
            "void": books["void"] or at50["void"],
            "target_ratio": TARGET_RATIO,
            "runs": [{k: (_r(v) if isinstance(v, float) else v) for k, v in r.items()} for r in runs],
            "latency_runs": lat_runs,
            "settings": {"conns": args.conns, "warmup_s": args.warmup, "duration_s": args.duration,
                         "rounds": args.rounds, "latency_seconds": args.latency_seconds, "pinned": pin},
            "machine": machine(),
            "wall_s": round(wall, 1),
        }
        table = Table(title="make bench (medians)", show_header=True)
        for col in ("", "req/s", "vs baseline", "closed-loop p99 ms"):
            table.add_column(col, justify="right" if col else "left")
        if baseline_rps and ingest_rps and ratio:
            table.add_row("baseline (Starlette + 1 publish)", f"{baseline_rps:.0f}", "1.00", f"{report['baseline_p99_ms']}")
            table.add_row("switchboard ingest", f"{ingest_rps:.0f}", f"{ratio:.2f}", f"{report['ingest_p99_ms']}")
        if up_rps and report["up_ratio"]:
            table.add_row("switchboard up (ingest, workers busy)", f"{up_rps:.0f}", f"{report['up_ratio']:.2f}",
                          f"{_r(med('up', 'ingest_p99_ms'))}")
        console.print(table)
        console.print(f"end-to-end POST→queue at 50 items/s: p50 {report['p50_ms_at_50']} ms, p99 {report['p99_ms_at_50']} ms; "
                      f"pipeline capacity {report['pipeline_1']} items/s (1 enrich process), {report['pipeline_2']} (2); "
                      f"judge {report['judge_items_per_cpu_s']} items per CPU-second")
        console.print(f"end-to-end POST→queue at {rate:.0f} req/s: p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms; "
                      f"ledger sent {books['sent']} = landed {books['landed']} + missing {books['missing']}"
                      + ("  [bold red]VOID[/]" if books["void"] else ""))
        if ratio is not None and ratio < TARGET_RATIO:
            console.print(f"[yellow]ratio {ratio:.2f} is below the target {TARGET_RATIO}[/]")
        REPORTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (REPORTS / f"{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
        log(f"bench: wall {wall:.0f}s, report bench/reports/{stamp}.json")
        keys = ("switchboard_rps", "baseline_rps", "ratio", "p50_ms", "p99_ms", "up_rps", "up_ratio", "up_landed_rps",
                "pipeline_1", "pipeline_2", "pipeline_1_items_per_cpu_s", "pipeline_2_items_per_cpu_s",
                "judge_items_per_cpu_s", "p50_ms_at_50", "p99_ms_at_50", "void_at_50", "pipeline_capacity_rps", "cpu_ratio", "baseline_cpu_us_per_req", "ingest_cpu_us_per_req", "ingest_p99_ms", "baseline_p99_ms", "e2e_max_ms", "latency_rate", "sent", "landed", "missing", "void",
                "wall_s")
        print(json.dumps({k: report[k] for k in keys}), flush=True)
        return 0
    finally:
        if args.keep:
            log(f"bench: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _r(v: float | None) -> float | None:
    return round(v, 1) if isinstance(v, float) else v


if __name__ == "__main__":
    sys.exit(main())
