"""Budget claims under contention: 16 racers for the last slots of one per-contact budget of 10.

On a fresh Firestore emulator, K=16 threads start together (a barrier) and each
tries to claim one SMS delivery (a distinct alert, the same contact) that spends
one send from the same per-contact budget, limit 10. Exactly 10 should get through
and 6 be refused; nobody should error.

- ours: the real `AlertStore.claim_new_delivery` with one `Budget`: it creates the
  delivery document, then spends the budget with a Firestore `Increment`
  fetch-and-add (`AlertStore._spend`), giving the send back if the returned count
  is over the limit.
- baseline: the classic read-then-write `@firestore.transactional` claim: in one
  transaction, read the counter, refuse if it is at the limit, else write count+1
  and create the same delivery document. Same documents, same client.

Each variant runs 3 rounds (alternating, each round on fresh documents); the
figures are medians. A baseline racer that the client library gives up on
("Failed to commit transaction in 5 attempts") counts as an error.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

from google.cloud import firestore

from bench import support
from bench.results import Result
from shared.models import Channel
from shared.ratelimit import Budget, window_start
from shared.store import AlertStore, ClaimOutcome, utcnow

RACERS = 16
LIMIT = 10
ROUNDS = 3
TENANT = "t-bench"
CONTACT = "alice"
WINDOW_SECONDS = 3600
ROUND_TIMEOUT_SECONDS = 90.0  # a guard only: measured baseline rounds take ~10 s


def ours(db: firestore.Client, budget_path: str) -> Callable[[str], str]:
    store = AlertStore(db)
    budget = Budget("contact", budget_path, LIMIT, WINDOW_SECONDS)

    def claim(alert_id: str) -> str:
        outcome = store.claim_new_delivery(TENANT, alert_id, CONTACT, Channel.SMS, lease_seconds=60, budgets=[budget]).outcome
        return {ClaimOutcome.CLAIMED: "passed", ClaimOutcome.RATE_LIMITED: "refused"}.get(outcome, f"other:{outcome.value}")

    return claim


def transactional_baseline(db: firestore.Client, budget_path: str) -> Callable[[str], str]:
    """What the store would look like with a read-write transaction per claim."""
    budget = Budget("contact", budget_path, LIMIT, WINDOW_SECONDS)

    def claim(alert_id: str) -> str:
        counter = db.document(f"{budget.path}-{window_start(budget, utcnow())}")
        delivery = db.document("tenants", TENANT, "alerts", alert_id, "deliveries", f"{CONTACT}.{Channel.SMS.value}")

        @firestore.transactional
        def attempt(transaction) -> str:
            snapshot = counter.get(transaction=transaction)
            count = (snapshot.to_dict() or {}).get("count", 0) if snapshot.exists else 0
            if count >= budget.limit:
                return "refused"
            transaction.set(counter, {"count": count + 1}, merge=True)
            transaction.create(delivery, {"tenantId": TENANT, "alertId": alert_id, "contactId": CONTACT, "status": "sending", "attempts": 1})
            return "passed"

        return attempt(db.transaction())

    return claim


def race(claim: Callable[[str], str]) -> dict:
    """Starts RACERS claims at once; returns wall time until the last one finished and what each got."""
    outcomes: list[str] = []
    lock = threading.Lock()
    started: list[float] = []
    barrier = threading.Barrier(RACERS, action=lambda: started.append(time.monotonic()))

    def racer() -> None:
        alert_id = uuid.uuid4().hex
        barrier.wait()
        try:
            outcome = claim(alert_id)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted outcome here
            outcome = f"error:{type(exc).__name__}: {str(exc)[:80]}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=racer, daemon=True) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + ROUND_TIMEOUT_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    finished = time.monotonic()
    counts = Counter("error" if o.startswith("error:") else o for o in outcomes)
    return {
        "seconds": finished - started[0],
        "passed": counts.get("passed", 0),
        "refused": counts.get("refused", 0),
        "errored": counts.get("error", 0) + sum(v for k, v in counts.items() if k not in ("passed", "refused", "error")),
        "unfinished": RACERS - len(outcomes),
        "errors": sorted({o for o in outcomes if o not in ("passed", "refused")}),
    }


def counter_value(db: firestore.Client, budget_path: str) -> int | None:
    budget = Budget("contact", budget_path, LIMIT, WINDOW_SECONDS)
    snapshot = db.document(f"{budget.path}-{window_start(budget, utcnow())}").get()
    return (snapshot.to_dict() or {}).get("count") if snapshot.exists else None


def run(firestore_host: str) -> list[Result]:
    rounds: dict[str, list[dict]] = {"ours": [], "baseline": []}
    with support.firestore_client(firestore_host) as db:
        db.document("bench/warm-up").set({"at": firestore.SERVER_TIMESTAMP})  # open the channel outside the timing
        for number in range(ROUNDS):
            for variant, make in (("ours", ours), ("baseline", transactional_baseline)):
                path = f"tenants/{TENANT}/rateLimits/contact-{CONTACT}-{variant}-{number}-{uuid.uuid4().hex[:6]}"
                outcome = race(make(db, path))
                outcome["counterAfter"] = counter_value(db, path)
                rounds[variant].append(outcome)

    def med(variant: str, key: str) -> float:
        return support.median([r[key] for r in rounds[variant]])

    def exact(variant: str) -> int:
        return sum(1 for r in rounds[variant] if r["passed"] == LIMIT and r["errored"] == 0 and r["unfinished"] == 0)

    per_round = {variant: [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rounds[variant]] for variant in rounds}
    summary = {variant: {key: med(variant, key) for key in ("passed", "refused", "errored", "unfinished")} for variant in rounds}

    def tally(variant: str) -> str:
        m = summary[variant]
        return f"{m['passed']:g} passed, {m['refused']:g} refused, {m['errored']:g} errored"

    def per_variant(key: str) -> dict[str, list]:
        return {variant: [r[key] for r in rounds[variant]] for variant in rounds}

    errors = sorted({e for r in rounds["baseline"] + rounds["ours"] for e in r["errors"]})
    return [
        Result(
            f"claims: wall time, {RACERS} racers for a budget of {LIMIT} (median of {ROUNDS})",
            med("ours", "seconds"),
            "s",
            med("baseline", "seconds"),
            better="lower",
            # The point of Increment over transactions: the emulator serializes a hot document's
            # transactions, so anything short of a clear multiple would not justify the extra care.
            goal=">= 3x",
            note=f"medians per round: Increment {tally('ours')}; transaction {tally('baseline')}"
            + (f" ({', '.join(errors)})" if errors else ""),
            details={"medians": summary, "rounds": per_round},
        ),
        Result(
            f"claims: rounds in which exactly {LIMIT} of {RACERS} passed, none errored",
            exact("ours"),
            f"of {ROUNDS}",
            exact("baseline"),
            better="higher",
            goal=f"value == {ROUNDS}",
            note=(
                f"passed per round: Increment {per_variant('passed')['ours']}, transaction {per_variant('passed')['baseline']}; "
                f"budget counter left at: Increment {per_variant('counterAfter')['ours']}, "
                f"transaction {per_variant('counterAfter')['baseline']}"
            ),
            details={"medians": summary},
        ),
    ]
