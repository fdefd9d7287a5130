"""Start, stop and inspect the local stack: real emulators, functions-framework hosts, provider fakes, relay, ticker.

    python -m local.stack up     [--state-dir .local] [--config PATH]
    python -m local.stack down   [--state-dir .local]
    python -m local.stack status [--state-dir .local]

`up` on a state dir that already has a stack stops that stack first, so `up`
always leaves exactly one fresh stack behind (emulator data does not survive).

State dir layout:
    stack.json                 projectId, firestoreEmulatorHost, pubsubEmulatorHost, twilioUrl, sendgridUrl,
                               functions (name -> URL), relayUrl, publicBaseUrl; no secrets
    env.json                   (0600) the variables the stack gave every function, secrets included
    pids.json                  every process group started, recorded the moment it starts
    logs/<component>.log       stdout+stderr of each component
    pubsub-data/               the Pub/Sub emulator's --data-dir
    run/<function>/            each gunicorn master's control-socket dir ($XDG_RUNTIME_DIR)
    sendgrid-signing-key.pem   (0600) the SendGrid fake's event-webhook signing key
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import secrets
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from local import emulators, topology
from local.ports import LOOPBACK, free_ports
from shared.settings import deployed_name
from local.processes import (
    PIDS_FILE,
    PendingComponent,
    ProcessRegistry,
    is_running,
    kill_all,
    log_has_line,
    spawn,
    stop_all,
    wait_until_ready,
    write_private_file,
)

PROJECT_ID = "demo-alerts"  # the demo- prefix keeps Google client libraries from ever reaching real GCP
PUBLIC_BASE_URL = "https://hooks.alerts.test"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config" / "alert_config.json"
DEFAULT_STATE_DIR = Path(".local")
DEFAULT_SWEEP_INTERVAL_SECONDS = "5"
READY_TIMEOUT_SECONDS = 90.0  # generous: two JVMs and nine Python processes start at once on small CI machines

STACK_FILE = "stack.json"
ENV_FILE = "env.json"
SIGNING_KEY_FILE = "sendgrid-signing-key.pem"
FIRESTORE_TRIGGER_FUNCTION = next(spec.name for spec in topology.FUNCTIONS if spec.trigger == "firestore")

log = logging.getLogger("local.stack")


class StackNotRunning(RuntimeError):
    """No stack.json in the state dir: `up` was never run there, or `down` ran since."""


@dataclasses.dataclass
class StackInfo:
    project_id: str
    firestore_emulator_host: str
    pubsub_emulator_host: str
    twilio_url: str
    sendgrid_url: str
    functions: dict[str, str]  # name -> internal URL
    relay_url: str
    public_base_url: str
    # The variables the stack set for every function on top of the inherited
    # environment, secrets included: never print or log this.
    env: dict[str, str] = dataclasses.field(repr=False)

    def public_url(self, function_name: str) -> str:
        """Where a provider believes an HTTP function lives; the fakes sign callbacks for this URL."""
        return f"{self.public_base_url}/{deployed_name(function_name)}"

    def to_stack_json(self) -> dict:
        return {
            "projectId": self.project_id,
            "firestoreEmulatorHost": self.firestore_emulator_host,
            "pubsubEmulatorHost": self.pubsub_emulator_host,
            "twilioUrl": self.twilio_url,
            "sendgridUrl": self.sendgrid_url,
            "functions": self.functions,
            "relayUrl": self.relay_url,
            "publicBaseUrl": self.public_base_url,
        }


@dataclasses.dataclass(frozen=True)
class _Ports:
    firestore: int
    pubsub: int
    twilio: int
    sendgrid: int
    relay: int
    functions: dict[str, int]

    @classmethod
    def allocate(cls) -> _Ports:
        names = [spec.name for spec in topology.FUNCTIONS]
        ports = free_ports(5 + len(names))
        return cls(*ports[:5], functions=dict(zip(names, ports[5:])))


def up(
    state_dir: Path = DEFAULT_STATE_DIR,
    config_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    *,
    function_source: Path | None = None,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
) -> StackInfo:
    """Start the whole stack and return once every component is ready.

    `function_source` is the file functions-framework loads (default: main.py at
    the repo root). Any failure stops whatever was started, then re-raises.
    """
    started = time.monotonic()
    state_dir = Path(state_dir).resolve()
    if (state_dir / PIDS_FILE).exists():
        log.info("stopping the stack already running in %s", state_dir)
        down(state_dir)

    binaries = emulators.locate_binaries()
    config = _resolve_config(config_path)
    source = Path(function_source or REPO_ROOT / "main.py").resolve()
    if not source.is_file():
        raise FileNotFoundError(f"function source not found: {source}")
    functions_framework = Path(sys.executable).parent / "functions-framework"
    if not functions_framework.is_file():
        raise FileNotFoundError(f"{functions_framework} not found: install requirements.txt into this virtualenv")
    from local import fake_sendgrid  # imported late: only `up` needs it, and it is another engineer's module

    log_dir = state_dir / "logs"
    pubsub_data = state_dir / "pubsub-data"
    shutil.rmtree(pubsub_data, ignore_errors=True)
    pubsub_data.mkdir(parents=True)
    log_dir.mkdir(parents=True, exist_ok=True)

    ports = _Ports.allocate()
    firestore_host = f"{LOOPBACK}:{ports.firestore}"
    pubsub_host = f"{LOOPBACK}:{ports.pubsub}"
    function_urls = {name: f"http://{LOOPBACK}:{port}" for name, port in ports.functions.items()}
    signing_key = state_dir / SIGNING_KEY_FILE
    function_env = _function_environment(
        firestore_host=firestore_host,
        pubsub_host=pubsub_host,
        config=config,
        twilio_port=ports.twilio,
        sendgrid_port=ports.sendgrid,
        sendgrid_public_key=fake_sendgrid.generate_signing_keypair(str(signing_key)),
        extra_env=extra_env or {},
    )
    info = StackInfo(
        project_id=PROJECT_ID,
        firestore_emulator_host=firestore_host,
        pubsub_emulator_host=pubsub_host,
        twilio_url=function_env["TWILIO_API_BASE_URL"],
        sendgrid_url=function_env["SENDGRID_API_BASE_URL"],
        functions=function_urls,
        relay_url=f"http://{LOOPBACK}:{ports.relay}",
        public_base_url=PUBLIC_BASE_URL,
        env=function_env,
    )
    registry = ProcessRegistry(state_dir / PIDS_FILE)
    # Inherit the caller's environment: coverage.py and PATH tweaks travel through it.
    inherited = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(name: str, argv: list[str], probe, env: Mapping[str, str] = inherited, port: int | None = None):
        process = spawn(name, argv, registry=registry, log_dir=log_dir, env=env, cwd=REPO_ROOT, port=port)
        return PendingComponent(name, process, log_dir / f"{name}.log", probe)

    try:
        # Everything that does not depend on another component starts at once, then is
        # waited for together; the JVMs' start-up overlaps with the Python imports.
        first_wave = [
            start(
                "firestore-emulator",
                emulators.firestore_command(binaries, LOOPBACK, ports.firestore, f"{LOOPBACK}:{ports.relay}"),
                lambda: emulators.emulator_answers(firestore_host),
                port=ports.firestore,
            ),
            start(
                "pubsub-emulator",
                emulators.pubsub_command(binaries, LOOPBACK, ports.pubsub, pubsub_data),
                lambda: emulators.emulator_answers(pubsub_host),
                port=ports.pubsub,
            ),
            start(
                "fake-twilio",
                _python_module(
                    "local.fake_twilio",
                    "--host", LOOPBACK, "--port", str(ports.twilio),
                    "--account-sid", function_env["TWILIO_ACCOUNT_SID"],
                    "--auth-token", function_env["TWILIO_AUTH_TOKEN"],
                    *_route_arguments(info),
                ),
                log_has_line(log_dir / "fake-twilio.log", f"READY {ports.twilio}"),
                port=ports.twilio,
            ),
            start(
                "fake-sendgrid",
                _python_module(
                    "local.fake_sendgrid",
                    "--host", LOOPBACK, "--port", str(ports.sendgrid),
                    "--api-key", function_env["SENDGRID_API_KEY"],
                    "--event-webhook-url", info.public_url("sendgrid_events"),
                    "--signing-key-pem", str(signing_key),
                    *_route_arguments(info),
                ),
                log_has_line(log_dir / "fake-sendgrid.log", f"READY {ports.sendgrid}"),
                port=ports.sendgrid,
            ),
        ]  # fmt: skip
        for spec in topology.FUNCTIONS:
            first_wave.append(
                start(
                    f"function-{spec.name}",
                    [
                        str(functions_framework),
                        "--target", spec.name,
                        "--signature-type", spec.signature,
                        "--source", str(source),
                        "--host", LOOPBACK,
                        "--port", str(ports.functions[spec.name]),
                    ],  # fmt: skip
                    _answers_http(function_urls[spec.name]),
                    env={**inherited, **function_env, **_gunicorn_runtime_dir(state_dir, spec.name)},
                    port=ports.functions[spec.name],
                )
            )
        _report_ready(wait_until_ready(first_wave, ready_timeout))

        emulators.provision_pubsub(pubsub_host, PROJECT_ID, function_urls)
        sweep_interval = {**os.environ, **(extra_env or {})}.get(
            "SWEEP_INTERVAL_SECONDS", DEFAULT_SWEEP_INTERVAL_SECONDS
        )
        second_wave = [
            start(
                "relay",
                _python_module(
                    "local.relay",
                    "--port", str(ports.relay),
                    "--firestore-host", firestore_host,
                    "--project", PROJECT_ID,
                    "--trigger-id", FIRESTORE_TRIGGER_FUNCTION,
                    "--target", function_urls[FIRESTORE_TRIGGER_FUNCTION] + "/",
                ),  # fmt: skip
                log_has_line(log_dir / "relay.log", f"READY {ports.relay}"),
                port=ports.relay,
            ),
            start(
                "ticker",
                _python_module(
                    "local.ticker",
                    "--project", PROJECT_ID,
                    "--topic", topology.SWEEP_TOPIC,
                    "--interval", sweep_interval,
                    "--pubsub-host", pubsub_host,
                ),  # fmt: skip
                log_has_line(log_dir / "ticker.log", "READY"),
            ),
        ]
        _report_ready(wait_until_ready(second_wave, ready_timeout))
        # The relay registered the trigger itself once listening (so a restarted relay
        # re-registers); registering again here makes `up` fail loudly if that went wrong.
        emulators.register_firestore_trigger(firestore_host, PROJECT_ID, FIRESTORE_TRIGGER_FUNCTION)

        write_private_file(state_dir / ENV_FILE, json.dumps(function_env, indent=2) + "\n")
        (state_dir / STACK_FILE).write_text(json.dumps(info.to_stack_json(), indent=2) + "\n")
    except BaseException:
        log.error("up failed; stopping everything it started")
        down(state_dir)
        raise
    log.info("stack up in %.1f s (state dir %s)", time.monotonic() - started, state_dir)
    return info


def down(state_dir: Path = DEFAULT_STATE_DIR) -> None:
    """Stop every recorded process group; safe to call any number of times."""
    state_dir = Path(state_dir).resolve()
    registry = ProcessRegistry.load(state_dir)
    survivors = stop_all(list(registry.records.values()))
    if survivors:
        raise RuntimeError(f"still running after SIGKILL: {', '.join(survivors)} (see {registry.path})")
    registry.delete()
    for name in (STACK_FILE, ENV_FILE, SIGNING_KEY_FILE):
        (state_dir / name).unlink(missing_ok=True)


def load(state_dir: Path = DEFAULT_STATE_DIR) -> StackInfo:
    """The StackInfo of the stack running in `state_dir`, read back from stack.json and env.json."""
    state_dir = Path(state_dir).resolve()
    try:
        stack = json.loads((state_dir / STACK_FILE).read_text())
        env = json.loads((state_dir / ENV_FILE).read_text())
    except FileNotFoundError as exc:
        raise StackNotRunning(f"no local stack in {state_dir} (start one with `python -m local.stack up`)") from exc
    return StackInfo(
        project_id=stack["projectId"],
        firestore_emulator_host=stack["firestoreEmulatorHost"],
        pubsub_emulator_host=stack["pubsubEmulatorHost"],
        twilio_url=stack["twilioUrl"],
        sendgrid_url=stack["sendgridUrl"],
        functions=stack["functions"],
        relay_url=stack["relayUrl"],
        public_base_url=stack["publicBaseUrl"],
        env=env,
    )


def stop_function(state_dir: Path, name: str) -> None:
    """Stop one function's process group, e.g. to test that its events wait in the relay or in Pub/Sub."""
    registry = ProcessRegistry.load(Path(state_dir).resolve())
    record = registry.records[f"function-{name}"]
    if stop_all([record]):
        raise RuntimeError(f"function {name} survived SIGKILL")


def crash_function(state_dir: Path, name: str) -> None:
    """SIGKILL one function's process group mid-flight: no graceful shutdown, in-flight requests are lost."""
    registry = ProcessRegistry.load(Path(state_dir).resolve())
    if kill_all([registry.records[f"function-{name}"]]):
        raise RuntimeError(f"function {name} survived SIGKILL")


def start_function(state_dir: Path, name: str, ready_timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Start a stopped function again, on the same port and with the same environment, and wait until it answers."""
    state_dir = Path(state_dir).resolve()
    info = load(state_dir)
    registry = ProcessRegistry.load(state_dir)
    record = registry.records[f"function-{name}"]
    if is_running(record):
        raise RuntimeError(f"function {name} is already running")
    process = spawn(
        record.name,
        record.argv,
        registry=registry,
        log_dir=Path(record.log).parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **info.env, **_gunicorn_runtime_dir(state_dir, name)},
        cwd=REPO_ROOT,
        port=record.port,
    )
    wait_until_ready([PendingComponent(record.name, process, Path(record.log), _answers_http(info.functions[name]))], ready_timeout)


def stop_relay(state_dir: Path) -> None:
    """Stop the trigger relay: documents written meanwhile get no trigger at all, as when a callback is lost."""
    registry = ProcessRegistry.load(Path(state_dir).resolve())
    if stop_all([registry.records["relay"]]):
        raise RuntimeError("relay survived SIGKILL")


def start_relay(state_dir: Path, ready_timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Start the relay again on its port; it registers the Firestore trigger again as it starts."""
    state_dir = Path(state_dir).resolve()
    info = load(state_dir)
    registry = ProcessRegistry.load(state_dir)
    record = registry.records["relay"]
    if is_running(record):
        raise RuntimeError("relay is already running")
    process = spawn(record.name, record.argv, registry=registry, log_dir=Path(record.log).parent,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=REPO_ROOT, port=record.port)
    wait_until_ready([PendingComponent(record.name, process, Path(record.log), _answers_http(f"{info.relay_url}/__relay/stats"))], ready_timeout)


def _resolve_config(config_path: Path | None) -> Path:
    chosen = config_path or os.environ.get("ALERT_CONFIG") or DEFAULT_CONFIG
    path = Path(chosen).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"alert configuration not found: {path} (from --config, $ALERT_CONFIG or the default)")
    return path


def _function_environment(
    *,
    firestore_host: str,
    pubsub_host: str,
    config: Path,
    twilio_port: int,
    sendgrid_port: int,
    sendgrid_public_key: str,
    extra_env: Mapping[str, str],
) -> dict[str, str]:
    """What every function process gets on top of the inherited environment; fresh secrets per stack."""
    return {
        "GOOGLE_CLOUD_PROJECT": PROJECT_ID,
        "FIRESTORE_EMULATOR_HOST": firestore_host,
        "PUBSUB_EMULATOR_HOST": pubsub_host,
        "ALERT_CONFIG": str(config),
        "ALERTS_ENV": "local",
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_FROM_NUMBER": "+15005550006",  # Twilio's "valid sender" test number
        "TWILIO_API_BASE_URL": f"http://{LOOPBACK}:{twilio_port}",
        "SENDGRID_API_KEY": f"SG.{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}",
        "SENDGRID_FROM_EMAIL": "alerts@example.test",
        "SENDGRID_API_BASE_URL": f"http://{LOOPBACK}:{sendgrid_port}",
        "SENDGRID_WEBHOOK_PUBLIC_KEY": sendgrid_public_key,
        "LINK_SIGNING_KEY": secrets.token_urlsafe(32),
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "LOG_EXECUTION_ID": "true",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }


def _gunicorn_runtime_dir(state_dir: Path, function_name: str) -> dict[str, str]:
    """Give each gunicorn master its own control-socket directory.

    gunicorn (25.1+) puts its control socket at $XDG_RUNTIME_DIR/gunicorn.ctl, else
    ~/.gunicorn/gunicorn.ctl: one shared path that seven masters (and any other
    gunicorn of the user) would race for and unlink from under each other. If the
    path gets too long for a Unix socket, gunicorn just runs without one.
    """
    runtime_dir = state_dir / "run" / function_name
    runtime_dir.mkdir(parents=True, exist_ok=True)
    return {"XDG_RUNTIME_DIR": str(runtime_dir)}


def _route_arguments(info: StackInfo) -> list[str]:
    """The fakes sign callbacks for the public URL of an HTTP function but deliver them to its local port."""
    arguments = []
    for spec in topology.FUNCTIONS:
        if spec.trigger == "http":
            arguments += ["--route", f"{info.public_url(spec.name)}={info.functions[spec.name]}/"]
    return arguments


def _python_module(module: str, *arguments: str) -> list[str]:
    return [sys.executable, "-m", module, *arguments]


def _answers_http(url: str):
    """functions-framework is ready once it answers at all.

    It answers /robots.txt itself (404 for HTTP functions, 405 for CloudEvent
    ones) without calling the function, so the probe leaves no trace in the
    function's logs and cannot trip its signature checks.
    """

    def probe() -> bool:
        requests.get(url + "/robots.txt", timeout=0.5)
        return True

    return probe


def _report_ready(ready_after: dict[str, float]) -> None:
    for name, seconds in sorted(ready_after.items(), key=lambda item: item[1]):
        log.info("%-32s ready after %.2f s", name, seconds)


# -- CLI --------------------------------------------------------------------------------------------------


def status_lines(state_dir: Path) -> tuple[list[str], bool]:
    """Human-readable state of each recorded component, and whether all of them are running."""
    registry = ProcessRegistry.load(Path(state_dir).resolve())
    if not registry.records:
        return [f"no stack recorded in {Path(state_dir).resolve()}"], False
    lines, all_running = [], True
    for record in registry.records.values():
        running = is_running(record)
        all_running &= running
        where = f"{LOOPBACK}:{record.port}" if record.port else ""
        lines.append(f"{record.name:32} {'running' if running else 'STOPPED':8} pgid {record.pgid:<8} {where}")
    return lines, all_running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--config", type=Path, default=None, help="alert config (default: $ALERT_CONFIG or config/alert_config.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    try:
        if args.command == "up":
            from shared.config import ConfigError, load_config

            try:
                # Checked before `up` stops a running stack or starts anything: a bad file is one clear line, no traceback.
                load_config(_resolve_config(args.config))
            except ConfigError as exc:
                print(f"error: invalid alert configuration: {exc}", file=sys.stderr)
                return 2
            info = up(args.state_dir, args.config)
            print(json.dumps(info.to_stack_json(), indent=2))
        elif args.command == "down":
            down(args.state_dir)
            print(f"stopped the stack in {args.state_dir.resolve()}")
        else:
            lines, all_running = status_lines(args.state_dir)
            print("\n".join(lines))
            return 0 if all_running else 1
    except (emulators.MissingPrerequisite, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
