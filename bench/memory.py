"""Memory: the on_alert_created process after real work, against a bare functions-framework hello-world.

Ours: the on_alert_created function of the latency benchmark's full stack, read
right after it handled that benchmark's alerts (150 warm-up + 100), before the
stack goes down; its RSS right after the warm-up is in the details too, so growth
per alert would show. Baseline: a hello-world CloudEvent function (bench/noop_functions.py
`hello`) started the way local.stack starts functions (same functions-framework
command line, gunicorn master + one worker with its default threads, own process
group, own XDG_RUNTIME_DIR), after it answered as many CloudEvents (the golden
tests/data/cloudevent_alert_created.json with fresh ids).

The figure is RSS summed over the process group (gunicorn master + worker) from
/proc/<pid>/status, as Cloud Run would see two processes. Pages the worker shares
with the master after fork count twice in that sum, so PSS (shared pages split
between sharers) is recorded in the details too.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import uuid
from pathlib import Path

import requests

from bench import support
from bench.results import Result
from local.ports import LOOPBACK, free_ports
from local.processes import PendingComponent, ProcessRegistry, spawn, wait_until_ready

GOLDEN_EVENT = support.REPO_ROOT / "tests" / "data" / "cloudevent_alert_created.json"
HELLO_SOURCE = Path(__file__).resolve().parent / "noop_functions.py"
COMPONENT = "function-on_alert_created"


def function_memory(stack_state_dir: Path) -> dict:
    """Memory of the running stack's on_alert_created process group."""
    return support.group_memory_mib(stack_state_dir, COMPONENT)


def hello_world_memory(events: int) -> dict:
    """Starts the bare hello-world function, sends it `events` CloudEvents, measures it, stops it."""
    state = support.state_dir("memory")
    support.stop_registry(state)
    registry = ProcessRegistry(state / "pids.json")
    port = free_ports(1)[0]
    url = f"http://{LOOPBACK}:{port}"
    runtime_dir = state / "run" / "hello"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(Path(sys.executable).parent / "functions-framework"),
        "--target", "hello",
        "--signature-type", "cloudevent",
        "--source", str(HELLO_SOURCE),
        "--host", LOOPBACK,
        "--port", str(port),
    ]  # fmt: skip
    golden = json.loads(GOLDEN_EVENT.read_text())
    body = base64.b64decode(golden["bodyBase64"])
    try:
        process = spawn(
            "function-hello",
            argv,
            registry=registry,
            log_dir=state / "logs",
            env={**os.environ, "PYTHONUNBUFFERED": "1", "XDG_RUNTIME_DIR": str(runtime_dir)},
            cwd=support.REPO_ROOT,
            port=port,
        )

        def answers() -> bool:
            requests.get(url + "/robots.txt", timeout=0.5)
            return True

        wait_until_ready([PendingComponent("function-hello", process, state / "logs" / "function-hello.log", answers)], support.READY_TIMEOUT_SECONDS)
        with requests.Session() as session:
            for _ in range(events):
                headers = {**golden["headers"], "ce-id": str(uuid.uuid4())}
                session.post(url + "/", data=body, headers=headers, timeout=10).raise_for_status()
        return support.group_memory_mib(state, "function-hello")
    finally:
        support.stop_registry(state)


def results(ours: dict, hello: dict, events: int, ours_earlier: dict | None = None) -> list[Result]:
    return [
        Result(
            f"memory: on_alert_created RSS (master+worker) after {events} alerts, vs bare functions-framework",
            ours["rssMiB"],
            "MiB",
            hello["rssMiB"],
            better="lower",
            ratio_of="value/baseline",
            # The function has to carry the Firestore (gRPC) and Pub/Sub clients, the Twilio and
            # SendGrid SDKs, pydantic and jsonschema, so a few times the bare framework is expected.
            # 4x the bare framework (~250 MiB) still leaves half of the 512 MiB that cloudbuild.yaml
            # gives on_alert_created for bursts of concurrent requests; beyond it that would shrink.
            goal="<= 4x",
            note=(
                f"PSS (shared pages split): {ours['pssMiB']:.0f} vs {hello['pssMiB']:.0f} MiB = "
                f"{ours['pssMiB'] / hello['pssMiB']:.2f}x"
                + (f"; ours was {ours_earlier['rssMiB']:.0f} MiB RSS after the warm-up" if ours_earlier else "")
            ),
            details={
                "ours": _rounded(ours),
                "oursAfterWarmUp": _rounded(ours_earlier or {}),
                "helloWorld": _rounded(hello),
                "events": events,
            },
        )
    ]


def _rounded(sample: dict) -> dict:
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in sample.items()}
