"""The one place where adapters are chosen and clients are built: once per function instance."""

from __future__ import annotations

import logging
from functools import lru_cache

from google.cloud import firestore

from shared.config import load_config
from shared.masking import register_secret
from shared.pipeline.deps import PipelineDeps
from shared.providers.sendgrid_email import SendGridEmailSender
from shared.providers.twilio_sms import TwilioSmsSender
from shared.queues import PubSubJobQueue
from shared.settings import Settings, get_settings
from shared.store import AlertStore

logger = logging.getLogger(__name__)


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""


def build_deps(settings: Settings) -> PipelineDeps:
    for secret in (settings.twilio_auth_token, settings.sendgrid_api_key, settings.link_signing_key):
        register_secret(_secret(secret))
    config = load_config(settings.alert_config)
    db = firestore.Client(project=settings.google_cloud_project)
    if not settings.link_signing_key:
        # Local only (production refuses to start without one): links from a dev stack are not secrets.
        logger.warning("LINK_SIGNING_KEY is not set; using a development key")
    return PipelineDeps(
        settings=settings,
        config=config,
        store=AlertStore(db),
        sms=TwilioSmsSender(
            settings.twilio_account_sid or "AC" + "0" * 32,
            _secret(settings.twilio_auth_token),
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            base_url=settings.twilio_api_base_url,
            timeout_seconds=settings.provider_timeout_seconds,
        ),
        email=SendGridEmailSender(
            _secret(settings.sendgrid_api_key),
            from_email=settings.sendgrid_from_email or "alerts@example.test",
            base_url=settings.sendgrid_api_base_url,
            timeout_seconds=settings.provider_timeout_seconds,
        ),
        queue=PubSubJobQueue(settings.google_cloud_project),
        link_key=(_secret(settings.link_signing_key) or "development-only-link-key").encode(),
    )


@lru_cache(maxsize=1)
def deps() -> PipelineDeps:
    return build_deps(get_settings())
