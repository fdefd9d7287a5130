"""What the benchmarks share: a bench-private state dir, a lone Firestore emulator, process memory from /proc.

Every process a benchmark starts goes through `local.processes.spawn` into a
registry (pids.json) under `.local/bench/...`, in its own process group, so it
is always stopped by its group id, also after a benchmark failed halfway.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from local import emulators
from local.ports import LOOPBACK, free_ports
from local.processes import PendingComponent, ProcessRegistry, live_members, spawn, stop_all, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_STATE = REPO_ROOT / ".local" / "bench"
PROJECT_ID = "demo-bench"  # demo- prefix: Google client libraries never reach real GCP
READY_TIMEOUT_SECONDS = 60.0


def state_dir(name: str) -> Path:
    path = BENCH_STATE / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def stop_registry(state: Path) -> None:
    """Stops every process group recorded in `state`/pids.json (what a previous, crashed run may have left)."""
    registry = ProcessRegistry.load(state)
    survivors = stop_all(list(registry.records.values()), grace_seconds=5.0)
    if survivors:
        raise RuntimeError(f"still running after SIGKILL: {', '.join(survivors)} (see {registry.path})")
    registry.delete()


@contextlib.contextmanager
def firestore_emulator(name: str = "emulator", functions_emulator: str | None = None) -> Iterator[str]:
    """A fresh Firestore emulator alone on a free port; yields host:port and always stops it.

    `functions_emulator` is where the emulator would POST document events; nothing
    listens on the default (a closed port), so benchmarks that write no
    trigger-matching documents are unaffected.
    """
    state = state_dir(name)
    stop_registry(state)
    binaries = emulators.locate_binaries()
    port, dead_port = free_ports(2)
    host = f"{LOOPBACK}:{port}"
    registry = ProcessRegistry(state / "pids.json")
    try:
        process = spawn(
            "firestore-emulator",
            emulators.firestore_command(binaries, LOOPBACK, port, functions_emulator or f"{LOOPBACK}:{dead_port}"),
            registry=registry,
            log_dir=state / "logs",
            env=os.environ,
            cwd=REPO_ROOT,
            port=port,
        )
        wait_until_ready(
            [PendingComponent("firestore-emulator", process, state / "logs" / "firestore-emulator.log", lambda: emulators.emulator_answers(host))],
            READY_TIMEOUT_SECONDS,
        )
        yield host
    finally:
        stop_registry(state)


@contextlib.contextmanager
def firestore_client(host: str, project: str = PROJECT_ID):
    """A Firestore client bound to the emulator at `host`.

    The client library reads FIRESTORE_EMULATOR_HOST when the client is built, so
    the variable is set just for that and restored at once.
    """
    from google.cloud import firestore

    saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    try:
        client = firestore.Client(project=project)
    finally:
        if saved is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = saved
    try:
        yield client
    finally:
        client.close()


# -- memory -------------------------------------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, ...), in KiB; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size (shared pages split between sharers), from /proc/<pid>/smaps_rollup."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def group_memory_mib(registry_dir: Path, component: str) -> dict:
    """RSS and PSS summed over the live members of one recorded process group (gunicorn master + worker)."""
    record = ProcessRegistry.load(registry_dir).records[component]
    members = live_members(record)
    if not members:
        raise RuntimeError(f"{component} is not running")
    return {
        "pids": len(members),
        "rssMiB": sum(status_kib(pid, "VmRSS") for pid in members) / 1024,
        "pssMiB": sum(pss_kib(pid) for pid in members) / 1024,
    }


# -- small statistics -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation): p95 of 100 samples is the 95th smallest."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = math.ceil(round(fraction * len(ordered), 9))  # round(): 0.95 * 100 is 95.00000000000001
    return ordered[max(1, min(len(ordered), rank)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
