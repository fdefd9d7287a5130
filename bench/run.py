"""`make bench`: run every benchmark, print a table, write bench/results.json.

    python -m bench.run

Order and sharing (2 cores, so nothing is measured while something else runs):
1. one lone Firestore emulator: bench.claims, then bench.relay (which only
   needs an emulator to register its trigger with);
2. two full local stacks, ours and a no-op one: bench.latency writes alerts to
   them in turns, then bench.memory reads ours' on_alert_created while it is up;
3. bench.memory's bare hello-world function, once the stacks are down.

Exit status: 0 when every benchmark measured something, met or MISSED (a missed
goal is a finding, reported in the table and in results.json, not a failure of
the run); 1 when a benchmark could not run at all (e.g. an emulator would not start).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import claims, latency, memory, relay, support
from bench.results import Result, failed, format_table, write_json

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
log = logging.getLogger("bench")


def _guarded(label: str, measure: Callable[[], list[Result]]) -> list[Result]:
    """Runs one benchmark; if it raises, the run goes on and the table says why this one has no figures."""
    started = time.monotonic()
    print(f"== {label} ...", flush=True)
    try:
        results = measure()
    except Exception as exc:  # noqa: BLE001 - a broken benchmark must not hide the others
        traceback.print_exc()
        results = [failed(label, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])]
    print(f"   {label}: {time.monotonic() - started:.1f} s", flush=True)
    return results


def run_all() -> list[Result]:
    results: list[Result] = []

    def on_emulator() -> list[Result]:
        with support.firestore_emulator("emulator") as host:
            return _guarded("claims", lambda: claims.run(host)) + _guarded("relay", lambda: relay.run(host))

    results += _guarded("lone Firestore emulator", on_emulator)

    memory_sample: dict = {}
    memory_after_warm_up: dict = {}
    handled: list[int] = []

    def on_stacks() -> list[Result]:
        with contextlib.ExitStack() as stacks:
            ours = latency.Side(stacks.enter_context(latency.running_stack("latency-ours")), latency.twilio_arrivals)
            noop = latency.Side(stacks.enter_context(latency.running_stack("latency-noop", latency.NOOP_SOURCE)), latency.noop_arrivals)
            latency.measure_interleaved(
                ours, noop, after_warm_up=lambda: memory_after_warm_up.update(memory.function_memory(ours.stack.state_dir))
            )
            memory_sample.update(memory.function_memory(ours.stack.state_dir))
            handled.append(ours.written + latency.WARM_UP_ALERTS)  # the measured alerts plus the warm-up
            return latency.results(ours, noop)

    results += _guarded("latency (two full stacks)", on_stacks)

    def memory_results() -> list[Result]:
        if not memory_sample:
            raise RuntimeError("no sample of on_alert_created: the latency stacks did not run")
        hello = memory.hello_world_memory(handled[0])
        return memory.results(memory_sample, hello, handled[0], memory_after_warm_up)

    results += _guarded("memory", memory_results)
    return results


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    started = time.monotonic()
    results = run_all()
    write_json(results, RESULTS_PATH)
    print()
    print(format_table(results))
    print()
    missed = [r for r in results if not r.met]
    broken = [r for r in results if "error" in r.details]
    print(
        f"{len(results) - len(missed)} of {len(results)} goals met"
        + (f", {len(missed)} MISSED" if missed else "")
        + (f" ({len(broken)} could not run)" if broken else "")
        + f"; total {time.monotonic() - started:.0f} s; written to {RESULTS_PATH.relative_to(support.REPO_ROOT)}"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
