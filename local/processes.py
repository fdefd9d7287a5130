"""Background processes of the local stack: start each in its own process group, record it, wait for it, stop it.

Every component runs in a new session (its own process group), so stopping it
means signalling the whole group: launch scripts, JVMs and gunicorn workers go
with their leader. Each group is written to `pids.json` the moment it starts,
so `down` can clean up after an `up` that died halfway.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

PIDS_FILE = "pids.json"

# Popen handles of the children started by this Python process, so stopping one
# also reaps it instead of leaving a zombie behind in the caller (pytest, the demo).
_children: dict[int, subprocess.Popen] = {}


class ComponentNotReady(RuntimeError):
    """A component exited or did not become ready in time; the message carries its log tail."""


@dataclass
class ProcessRecord:
    name: str
    pid: int
    pgid: int
    argv: list[str]
    log: str
    port: int | None = None
    # Leader start time (clock ticks since boot) and boot id: a recorded group id
    # is only trusted while both still match, so a reused pid is never signalled.
    start_ticks: int | None = None
    boot_id: str | None = None


@dataclass
class ProcessRegistry:
    """The `pids.json` of one state dir: every process group the stack started, in start order."""

    path: Path
    records: dict[str, ProcessRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> ProcessRegistry:
        path = Path(state_dir) / PIDS_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        records = {name: ProcessRecord(**entry) for name, entry in raw.get("processes", {}).items()}
        return cls(path, records)

    def add(self, record: ProcessRecord) -> None:
        self.records[record.name] = record
        self.save()

    def save(self) -> None:
        payload = {"processes": {name: asdict(record) for name, record in self.records.items()}}
        # Private: the provider fakes take their per-stack credentials as arguments.
        write_private_file(self.path, json.dumps(payload, indent=2) + "\n")

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.records.clear()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    registry: ProcessRegistry,
    log_dir: Path,
    env: Mapping[str, str],
    cwd: Path,
    port: int | None = None,
) -> subprocess.Popen:
    """Start `argv` in its own session with output to `<log_dir>/<name>.log`, and record it at once."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[process.pid] = process
    registry.add(
        ProcessRecord(
            name=name,
            pid=process.pid,
            pgid=process.pid,  # a new session's leader is also its group's leader
            argv=list(argv),
            log=str(log_path),
            port=port,
            start_ticks=_start_ticks(process.pid),
            boot_id=_boot_id(),
        )
    )
    return process


def is_running(record: ProcessRecord) -> bool:
    return bool(live_members(record))


def live_members(record: ProcessRecord) -> list[int]:
    """Pids still alive in the recorded group, or [] if the group is gone or its id now belongs to someone else."""
    if record.boot_id and record.boot_id != _boot_id():
        return []
    leader_ticks = _start_ticks(record.pgid)
    if leader_ticks is not None and record.start_ticks is not None and leader_ticks != record.start_ticks:
        return []  # the pid was reused by an unrelated process
    return _group_members(record.pgid)


def kill_all(records: Sequence[ProcessRecord]) -> list[str]:
    """SIGKILL every group at once, as a crash would; returns the names of groups still alive after 3 s."""
    for record in records:
        if live_members(record):
            _signal_group(record.pgid, signal.SIGKILL)
    remaining = _wait_until_gone(records, 3.0)
    for record in records:
        _reap(record.pid)
    return [record.name for record in remaining]


def stop_all(records: Sequence[ProcessRecord], grace_seconds: float = 8.0) -> list[str]:
    """SIGTERM every group, wait, SIGKILL what is left. Returns the names of groups that survived even SIGKILL."""
    targets = [record for record in records if live_members(record)]
    for record in targets:
        _signal_group(record.pgid, signal.SIGTERM)
    remaining = _wait_until_gone(targets, grace_seconds)
    for record in remaining:
        _signal_group(record.pgid, signal.SIGKILL)
    remaining = _wait_until_gone(remaining, 3.0)
    for record in records:
        _reap(record.pid)
    return [record.name for record in remaining]


@dataclass
class PendingComponent:
    """A started component and how to tell that it is ready to serve."""

    name: str
    process: subprocess.Popen
    log_path: Path
    probe: Callable[[], bool]


def wait_until_ready(components: Sequence[PendingComponent], timeout_seconds: float) -> dict[str, float]:
    """Probe all components in turn until each is ready; returns seconds-to-ready by name.

    Waiting for them together, not one after another, lets slow starters (the
    JVMs) overlap with the Python processes.
    """
    started = time.monotonic()
    deadline = started + timeout_seconds
    pending = list(components)
    ready_after: dict[str, float] = {}
    while pending:
        for component in list(pending):
            if _probe_quietly(component.probe):
                ready_after[component.name] = time.monotonic() - started
                pending.remove(component)
            elif component.process.poll() is not None:
                raise ComponentNotReady(
                    f"{component.name} exited with code {component.process.returncode} before it was ready.\n"
                    + describe_log(component.log_path)
                )
        if pending and time.monotonic() > deadline:
            component = pending[0]
            raise ComponentNotReady(
                f"{component.name} was not ready after {timeout_seconds:.0f} s "
                f"(still waiting for: {', '.join(c.name for c in pending)}).\n" + describe_log(component.log_path)
            )
        if pending:
            time.sleep(0.05)
    return ready_after


def log_has_line(log_path: Path, prefix: str) -> Callable[[], bool]:
    """A probe for components that announce readiness on stdout, e.g. `READY 41234`."""

    def probe() -> bool:
        try:
            with open(log_path, "rb") as log:
                return any(line.startswith(prefix.encode()) for line in log)
        except FileNotFoundError:
            return False

    return probe


def describe_log(log_path: Path, lines: int = 25) -> str:
    return f"Last lines of {log_path}:\n" + "\n".join("    " + line for line in log_tail(log_path, lines))


def log_tail(log_path: Path, lines: int = 25) -> list[str]:
    try:
        text = Path(log_path).read_bytes()[-32_000:].decode("utf-8", "replace")
    except FileNotFoundError:
        return ["(no log file)"]
    return text.splitlines()[-lines:] or ["(empty)"]


def _probe_quietly(probe: Callable[[], bool]) -> bool:
    try:
        return probe()
    except Exception:  # a probe that cannot connect yet is simply "not ready"
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _wait_until_gone(records: Sequence[ProcessRecord], timeout_seconds: float) -> list[ProcessRecord]:
    deadline = time.monotonic() + timeout_seconds
    remaining = list(records)
    while remaining:
        for record in remaining:
            _reap(record.pid)
        remaining = [record for record in remaining if live_members(record)]
        if not remaining or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return remaining


def _reap(pid: int) -> None:
    process = _children.get(pid)
    if process is not None and process.poll() is not None:
        del _children[pid]


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid`, read from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _read_stat(int(entry.name))
        if stat is not None and stat[2] == pgid and stat[0] != "Z":
            members.append(int(entry.name))
    return members


def _start_ticks(pid: int) -> int | None:
    stat = _read_stat(pid)
    return stat[19] if stat else None


def _read_stat(pid: int) -> list | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...] as ints where numeric."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses; it ends at the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return [fields[0]] + [int(value) for value in fields[1:]]


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_private_file(path: Path, text: str) -> None:
    """Write a file only the owner can read (the stack's secrets)."""
    _write_atomically(path, text, mode=0o600)
    os.chmod(path, 0o600)
