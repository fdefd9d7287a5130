"""The local stack from `up` to `down`, on the real emulators, with stand-in functions.

The functions here are a throwaway main.py that records each CloudEvent it gets
in Firestore, so these tests check the wiring (relay, Pub/Sub push, ticker,
process lifecycle), not the alerting logic.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from google.cloud import firestore

from google.cloud.firestore_v1.base_query import FieldFilter

from local import emulators, processes, stack, topology
from local.processes import ComponentNotReady, ProcessRegistry
from local.relay import CloudEvent, Relay, RetryPolicy

STAND_IN_FUNCTIONS = textwrap.dedent(
    '''
    """Stand-in entry points: each records the CloudEvent it received under <collection>/<ce-id>."""
    import functions_framework
    from google.cloud import firestore
    from google.events.cloud.firestore_v1 import DocumentEventData

    _client = None

    def _record(collection, event, **fields):
        global _client
        _client = _client or firestore.Client()
        _client.collection(collection).document(event["id"]).set(
            {"source": event["source"], "type": event["type"], "time": str(event["time"]), **fields}
        )

    @functions_framework.cloud_event
    def on_alert_created(event):
        document = DocumentEventData.deserialize(event.data).value
        _record("seen_alerts", event, document=document.name, title=document.fields["title"].string_value)

    @functions_framework.cloud_event
    def on_alert_retry(event):
        _record("seen_retries", event)

    @functions_framework.cloud_event
    def on_dead_letter(event):
        _record("seen_dead_letters", event)

    @functions_framework.cloud_event
    def on_sweep(event):
        _record("seen_sweeps", event)

    @functions_framework.http
    def twilio_status(request):
        return "ok"

    @functions_framework.http
    def twilio_inbound(request):
        return "ok"

    @functions_framework.http
    def sendgrid_events(request):
        return "ok"
    '''
)
pytestmark = pytest.mark.emulators

CONTRACT_KEYS = {"projectId", "firestoreEmulatorHost", "pubsubEmulatorHost", "twilioUrl", "sendgridUrl", "functions"}
SECRET_NAMES = ("TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY", "LINK_SIGNING_KEY")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stack")
    (root / "main.py").write_text(STAND_IN_FUNCTIONS)
    (root / "alert_config.json").write_text("{}\n")
    return root


@pytest.fixture(scope="module")
def state_dir(workspace) -> Path:
    return workspace / "state"


@pytest.fixture(scope="module")
def info(workspace, state_dir):
    started = time.monotonic()
    info = stack.up(
        state_dir,
        workspace / "alert_config.json",
        extra_env={"SWEEP_INTERVAL_SECONDS": "1", "EXTRA_FOR_TEST": "yes"},
        function_source=workspace / "main.py",
    )
    print(f"up() took {time.monotonic() - started:.1f} s")
    yield info
    stack.down(state_dir)


@pytest.fixture(scope="module")
def db(info):
    # The client reads FIRESTORE_EMULATOR_HOST once, when it is built.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", info.firestore_emulator_host)
        return firestore.Client(project=info.project_id)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def seen_alert(db, title: str) -> list[dict]:
    """What the stand-in on_alert_created recorded for the alert with this title."""
    return [doc.to_dict() for doc in db.collection("seen_alerts").where(filter=FieldFilter("title", "==", title)).get()]


def relay_stats(info) -> dict:
    return requests.get(f"{info.relay_url}/__relay/stats", timeout=2).json()


def test_stack_json_has_the_contract_keys(info, state_dir):
    written = json.loads((state_dir / "stack.json").read_text())
    assert CONTRACT_KEYS | {"relayUrl", "publicBaseUrl"} <= written.keys()
    assert written["projectId"] == "demo-alerts"
    assert set(written["functions"]) == {spec.name for spec in topology.FUNCTIONS}
    assert not any(info.env[name] in json.dumps(written) for name in SECRET_NAMES)


def test_every_component_answers(info):
    for host in (info.firestore_emulator_host, info.pubsub_emulator_host):
        assert requests.get(f"http://{host}/", timeout=2).text.strip() == "Ok"
    for fake in (info.twilio_url, info.sendgrid_url):
        assert requests.get(f"{fake}/__admin/requests", timeout=2).status_code == 200
    for name, url in info.functions.items():
        assert requests.get(f"{url}/robots.txt", timeout=2).status_code in (404, 405), name
    assert set(relay_stats(info)) >= {"received", "delivered", "retried", "dropped", "queued", "inFlight"}


def test_functions_get_the_stack_environment(info, workspace, state_dir):
    env = info.env
    assert env["GOOGLE_CLOUD_PROJECT"] == "demo-alerts"
    assert env["ALERT_CONFIG"] == str((workspace / "alert_config.json").resolve())
    assert re.fullmatch(r"AC[0-9a-f]{32}", env["TWILIO_ACCOUNT_SID"])
    assert env["SENDGRID_API_KEY"].startswith("SG.")
    assert env["TWILIO_API_BASE_URL"] == info.twilio_url and env["SENDGRID_API_BASE_URL"] == info.sendgrid_url
    assert env["PUBLIC_BASE_URL"] == "https://hooks.alerts.test"
    assert env["EXTRA_FOR_TEST"] == "yes"
    assert stat.S_IMODE((state_dir / "env.json").stat().st_mode) == 0o600
    assert stack.load(state_dir) == info


def test_pubsub_subscriptions_follow_the_topology(info):
    for spec in topology.FUNCTIONS:
        if spec.trigger != "pubsub":
            continue
        subscription = emulators.get_subscription(info.pubsub_emulator_host, info.project_id, spec.subscription)
        assert subscription["pushConfig"]["pushEndpoint"] == (
            f"{info.functions[spec.name]}/projects/demo-alerts/topics/{spec.topic}"
        )
        assert subscription["ackDeadlineSeconds"] == 60
        assert subscription["retryPolicy"] == {"minimumBackoff": "1s", "maximumBackoff": "10s"}
        if spec.dead_letter_topic:
            assert subscription["deadLetterPolicy"] == {
                "deadLetterTopic": f"projects/demo-alerts/topics/{spec.dead_letter_topic}",
                "maxDeliveryAttempts": spec.max_delivery_attempts,
            }
    audit = emulators.get_subscription(info.pubsub_emulator_host, info.project_id, topology.DEAD_LETTER_AUDIT_SUBSCRIPTION)
    assert audit["topic"] == f"projects/demo-alerts/topics/{topology.DEAD_LETTER_TOPIC}"
    assert not audit.get("pushConfig", {}).get("pushEndpoint")


def test_new_alert_document_reaches_the_function_through_the_relay(info, db):
    db.document("tenants/t1/alerts/relayed").set({"title": "through the relay"})
    seen = wait_for(
        lambda: seen_alert(db, "through the relay"),
        timeout=10,
        what="on_alert_created to record the event",
    )[0]
    assert seen["document"] == "projects/demo-alerts/databases/(default)/documents/tenants/t1/alerts/relayed"
    assert seen["source"] == "//firestore.googleapis.com/projects/demo-alerts/databases/(default)"
    assert seen["type"] == topology.FIRESTORE_CREATED
    assert "." in seen["time"]  # sub-second precision from update_time, not the emulator's whole seconds


def test_sweep_ticks_reach_on_sweep_through_pubsub_push(info, db):
    seen = wait_for(lambda: db.collection("seen_sweeps").limit(1).get(), timeout=10, what="a sweep tick")
    assert seen[0].to_dict()["source"] == "//pubsub.googleapis.com/projects/demo-alerts/topics/alert-sweep"


def test_relay_retries_until_the_function_is_back(info, db, state_dir):
    stack.stop_function(state_dir, "on_alert_created")
    before = relay_stats(info)
    db.document("tenants/t1/alerts/while-down").set({"title": "while the function was down"})
    wait_for(lambda: relay_stats(info)["retried"] >= before["retried"] + 2, timeout=10, what="the relay to retry")
    stack.start_function(state_dir, "on_alert_created")
    wait_for(
        lambda: seen_alert(db, "while the function was down"),
        timeout=20,
        what="the retried event to arrive",
    )
    after = relay_stats(info)
    assert after["dropped"] == before["dropped"]
    assert after["delivered"] == before["delivered"] + 1


def test_recorded_events_can_be_redelivered_verbatim(info, db):
    db.document("tenants/t1/alerts/replayed").set({"title": "replayed"})
    wait_for(lambda: seen_alert(db, "replayed"), timeout=10, what="delivery")
    last = requests.get(f"{info.relay_url}/__relay/events", params={"limit": 1}, timeout=2).json()[-1]
    assert last["headers"]["ce-document"] == "tenants/t1/alerts/replayed"
    response = requests.post(
        info.functions["on_alert_created"] + "/", data=base64.b64decode(last["bodyBase64"]), headers=last["headers"], timeout=10
    )
    assert response.status_code == 200


def test_down_leaves_no_process_behind(info, state_dir, workspace):
    records = list(ProcessRegistry.load(state_dir).records.values())
    assert len(records) == len(topology.FUNCTIONS) + 6  # 2 emulators, 2 fakes, relay, ticker
    needles = [str(state_dir), str(workspace / "main.py")]
    for record in records:
        if record.port:
            needles += [f"--port {record.port}", f"--port={record.port}", f"127.0.0.1:{record.port}"]
    assert processes_mentioning(needles), "the scan should see the running stack"

    stack.down(state_dir)

    assert processes_mentioning(needles) == []
    assert live_groups({record.pgid for record in records}) == []
    assert not (state_dir / "stack.json").exists() and not (state_dir / "pids.json").exists()
    stack.down(state_dir)  # idempotent
    with pytest.raises(stack.StackNotRunning):
        stack.load(state_dir)


def test_failed_up_stops_what_it_started(workspace, tmp_path, monkeypatch):
    started_groups = set()

    def spawn_and_remember(*args, **kwargs):
        process = processes.spawn(*args, **kwargs)
        started_groups.add(process.pid)
        return process

    monkeypatch.setattr(stack, "spawn", spawn_and_remember)
    broken = tmp_path / "main.py"
    broken.write_text("raise ImportError('stand-in that cannot load')\n")
    with pytest.raises(ComponentNotReady, match=r"(?s)function-\w+ exited .*cannot load"):
        stack.up(tmp_path / "state", workspace / "alert_config.json", function_source=broken)
    assert len(started_groups) >= 4
    assert live_groups(started_groups) == []
    assert processes_mentioning([str(tmp_path)]) == []
    assert not (tmp_path / "state" / "pids.json").exists()


def test_missing_emulators_are_named_with_install_hints(monkeypatch, tmp_path):
    monkeypatch.setattr(emulators, "SDK_ROOT_CANDIDATES", ())
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("CLOUDSDK_ROOT_DIR", raising=False)
    with pytest.raises(emulators.MissingPrerequisite) as raised:
        stack.up(tmp_path / "state")
    message = str(raised.value)
    for hint in ("google-cloud-cli-firestore-emulator", "google-cloud-cli-pubsub-emulator", "openjdk-17-jre-headless"):
        assert hint in message


# -- independent checks of what is running (deliberately not using local.processes) --------------------------


def _proc_entries():
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            after_name = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if after_name[0] != "Z":  # a zombie has exited; it only waits to be reaped
            yield int(entry.name), int(after_name[2]), cmdline


def processes_mentioning(needles: list[str]) -> list[str]:
    return [f"{pid}: {cmdline}" for pid, _, cmdline in _proc_entries() if any(n in cmdline for n in needles)]


def live_groups(pgids: set[int]) -> list[int]:
    return [pid for pid, pgid, _ in _proc_entries() if pgid in pgids]


# -- the relay's delivery engine against a local HTTP target (no emulators) ---------------------------------


class _Target(ThreadingHTTPServer):
    """A function stand-in whose answer and speed the test controls."""

    daemon_threads = True

    def __init__(self, status: int, delay: float) -> None:
        self.status, self.delay = status, delay
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with target.lock:
                    target.in_flight += 1
                    target.max_in_flight = max(target.max_in_flight, target.in_flight)
                time.sleep(target.delay)
                with target.lock:
                    target.in_flight -= 1
                self.send_response(target.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


def _event(number: int) -> CloudEvent:
    return CloudEvent({"ce-id": f"event-{number}", "content-type": "application/protobuf"}, b"\x0a\x00")


def test_relay_delivers_concurrently_like_eventarc():
    target = _Target(status=200, delay=0.3)
    relay = Relay("demo-alerts", "on_alert_created", target.url)
    relay.start_workers(8)
    started = time.monotonic()
    for number in range(8):
        relay.accept(_event(number))
    wait_for(lambda: relay.stats_snapshot()["delivered"] == 8, timeout=5, what="8 deliveries")
    assert time.monotonic() - started < 8 * 0.3  # one at a time would take at least 2.4 s
    assert target.max_in_flight >= 4
    target.shutdown()


def test_relay_drops_an_event_still_failing_at_max_age(capsys):
    target = _Target(status=500, delay=0)
    relay = Relay("demo-alerts", "on_alert_created", target.url, RetryPolicy(min_backoff=0.05, max_backoff=0.1, max_age=0.5))
    relay.start_workers(2)
    relay.accept(_event(1))
    stats = wait_for(lambda: (s := relay.stats_snapshot())["dropped"] == 1 and s, timeout=5, what="the drop")
    assert stats["delivered"] == 0 and stats["retried"] >= 3 and stats["queued"] == 0
    errors = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ERROR"' in line]
    assert errors and errors[-1]["ceId"] == "event-1" and errors[-1]["lastError"] == "HTTP 500"
    target.shutdown()
