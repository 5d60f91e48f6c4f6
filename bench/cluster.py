"""A 3-node NATS JetStream cluster on loopback, for the fault tests (`make chaos`, tests/integration/test_cluster.py).

Each node is a real nats-server with its own store, client port, monitor port and cluster route port,
all bound to 127.0.0.1 — the same topology as deploy/nats/cluster-node{1,2,3}.conf. Nodes can be
SIGKILLed and restarted on the same ports and store.

    python -m bench.cluster            # start, print NATS_URL, run until Ctrl-C
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from services.common.embedded import nats_server_binary, free_port


@dataclass
class Node:
    name: str
    store_dir: Path
    port: int
    monitor_port: int
    cluster_port: int
    routes: list[int] = field(default_factory=list)
    sync_always: bool = False
    process: subprocess.Popen | None = None  # type: ignore[type-arg]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        routes = "\n".join(f"    nats-route://127.0.0.1:{p}" for p in self.routes)
        sync = "\n  sync_interval: always" if self.sync_always else ""
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(
            f"server_name: {self.name}\n"
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            "max_payload: 8MB\n"
            f"jetstream {{\n  store_dir: {json.dumps(str(self.store_dir / 'jetstream'))}{sync}\n}}\n"
            f"cluster {{\n  name: switchboard\n  listen: 127.0.0.1:{self.cluster_port}\n  routes: [\n{routes}\n  ]\n}}\n"
        )
        return conf

    def start(self) -> "Node":
        conf = self.write_config()
        log = open(self.store_dir / "nats-server.log", "ab")
        self.process = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
                return resp.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Cluster:
    nodes: list[Node]

    @classmethod
    def create(cls, root: Path, size: int = 3, sync_always: bool = False) -> "Cluster":
        ports = [(free_port(), free_port(), free_port()) for _ in range(size)]
        cluster_ports = [c for _, _, c in ports]
        nodes = [
            Node(f"n{i + 1}", root / f"n{i + 1}", p, m, c, [x for x in cluster_ports if x != c], sync_always)
            for i, (p, m, c) in enumerate(ports)
        ]
        return cls(nodes)

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (NATS_URL / --nats accept this)."""
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout: float = 30.0) -> "Cluster":
        for node in self.nodes:
            node.start()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every running node answers healthz with JetStream ready (meta leader elected, streams current)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [n for n in self.nodes if n.alive()]
            if running and all(n.healthy() for n in running):
                return
            time.sleep(0.2)
        raise RuntimeError(f"cluster not healthy after {timeout}s; logs under {self.nodes[0].store_dir.parent}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def main() -> None:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="sb-cluster-"))
    cluster = Cluster.create(root).start()
    print(f"3-node cluster up; stores under {root}")
    print(f"NATS_URL={cluster.url} SWITCHBOARD_REPLICAS=3 switchboard up --nats $NATS_URL")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
