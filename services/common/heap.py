"""What a long-running process does with its start-up heap before it starts serving."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything allocated at start-up (config, schemas, imported modules, the judge's model objects) out
    of the cyclic garbage collector's view: a full collection then scans only what was allocated since, not a
    heap that never dies. (An enrich worker's full collection took 36-80 ms before this, about 0 after: a pause
    that lands on whichever items are in flight, i.e. on the latency tail.) Objects stay freed by refcount."""
    gc.collect()
    gc.freeze()
