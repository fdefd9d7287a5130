"""cloudbuild.yaml deploys exactly what local/topology.py describes, and main.py exposes it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from local.topology import FUNCTIONS, TOPICS
from shared.settings import deployed_name

REPO = Path(__file__).resolve().parents[2]
BUILD = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
SCRIPTS = {step["id"]: " ".join(step["args"]) for step in BUILD["steps"]}


def deploy_script(name: str) -> str:
    return SCRIPTS[f"deploy-{deployed_name(name)}"]


def test_every_function_is_deployed_once_with_its_trigger():
    deploys = [step_id for step_id in SCRIPTS if step_id.startswith("deploy-")]
    assert sorted(deploys) == sorted(f"deploy-{deployed_name(spec.name)}" for spec in FUNCTIONS)
    for spec in FUNCTIONS:
        script = deploy_script(spec.name)
        assert f"deploy/deploy_function.sh {spec.name} " in script
        if spec.trigger == "firestore":
            assert "google.cloud.firestore.document.v1.created" in script and "tenants/{tenantId}/alerts/{alertId}" in script
            assert "--retry" in script  # Eventarc redelivers on failure; the pipeline is idempotent
        elif spec.trigger == "pubsub":
            assert f"--trigger-topic={spec.topic}" in script
        else:
            assert "--trigger-http" in script


def test_retry_subscription_gets_the_dead_letter_policy():
    retry = next(spec for spec in FUNCTIONS if spec.dead_letter_topic)
    script = deploy_script(retry.name)
    assert f"--dead-letter-topic={retry.dead_letter_topic}" in script
    assert f"--max-delivery-attempts={retry.max_delivery_attempts}" in script


def test_every_topic_is_created():
    created = re.search(r"for topic in ([^;]+);", SCRIPTS["infrastructure"]).group(1).split()
    assert sorted(created) == sorted(TOPICS)


def test_main_exposes_exactly_the_topology_entry_points():
    source = (REPO / "main.py").read_text()
    exported = set(re.findall(r"^from functions\.\w+ import (\w+)$", source, re.MULTILINE))
    assert exported == {spec.name for spec in FUNCTIONS}


def test_a_deployed_function_without_credentials_refuses_to_start():
    env = {"PATH": "/usr/bin:/bin", "ALERTS_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "HOME": "/tmp"}
    result = subprocess.run([sys.executable, "-c", "import main"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "MissingCredentials" in result.stderr and "TWILIO_AUTH_TOKEN" in result.stderr and "LINK_SIGNING_KEY" in result.stderr


def test_a_deployed_function_may_not_point_the_sdks_at_a_local_server():
    env = {
        "PATH": "/usr/bin:/bin", "HOME": "/tmp", "ALERTS_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t" * 32, "TWILIO_FROM_NUMBER": "+15005550006",
        "SENDGRID_API_KEY": "SG.x.y", "SENDGRID_FROM_EMAIL": "a@example.com", "SENDGRID_WEBHOOK_PUBLIC_KEY": "k",
        "LINK_SIGNING_KEY": "k" * 32, "TWILIO_API_BASE_URL": "http://127.0.0.1:9999",
    }
    result = subprocess.run([sys.executable, "-c", "import main"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "must not point the provider SDKs" in result.stderr
