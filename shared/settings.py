"""Typed process settings, read from the environment once per instance.

Secrets are `SecretStr` so they never show up in a repr, a log line or a traceback.
A deployed function (ALERTS_ENV=production) with missing credentials or a local
provider URL refuses to start: falling back silently to a fake would drop alerts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class MissingCredentials(RuntimeError):
    """A deployed function was started without what it needs to reach a provider."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    alerts_env: str = Field("local", description="'local' (emulators, provider fakes) or 'production'")
    google_cloud_project: str = "demo-alerts"
    alert_config: Path = REPO_ROOT / "config" / "alert_config.json"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    # Only the local stack sets these: the official SDKs are pointed at the local provider servers.
    twilio_api_base_url: str | None = None
    sendgrid_api_base_url: str | None = None

    sendgrid_api_key: SecretStr | None = None
    sendgrid_from_email: str | None = None
    sendgrid_webhook_public_key: SecretStr | None = None

    link_signing_key: SecretStr | None = None
    # Where the HTTP functions are reachable from the internet; Twilio signs callbacks for this URL,
    # which is not the URL the function sees behind Google's front end.
    public_base_url: str = "https://hooks.alerts.test"

    provider_timeout_seconds: float = Field(5.0, gt=0, description="per provider HTTP call; below the function timeout")
    function_timeout_seconds: float = Field(60.0, gt=0)

    @property
    def is_production(self) -> bool:
        return self.alerts_env == "production"

    def public_url(self, entry_point: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/{deployed_name(entry_point)}"

    @model_validator(mode="after")
    def _deployed_functions_need_real_credentials(self) -> "Settings":
        if self.provider_timeout_seconds * 2 >= self.function_timeout_seconds:
            raise ValueError("provider_timeout_seconds must leave room for a retry inside the function timeout")
        if not self.is_production:
            return self
        required = {
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID": self.twilio_from_number
            or self.twilio_messaging_service_sid,
            "SENDGRID_API_KEY": self.sendgrid_api_key,
            "SENDGRID_FROM_EMAIL": self.sendgrid_from_email,
            "SENDGRID_WEBHOOK_PUBLIC_KEY": self.sendgrid_webhook_public_key,
            "LINK_SIGNING_KEY": self.link_signing_key,
        }
        missing = sorted(name for name, value in required.items() if not value)
        if missing:
            raise MissingCredentials(f"ALERTS_ENV=production but these are not set: {', '.join(missing)}")
        local_urls = [u for u in (self.twilio_api_base_url, self.sendgrid_api_base_url) if u]
        if local_urls:
            raise MissingCredentials("ALERTS_ENV=production must not point the provider SDKs at another base URL")
        return self


def deployed_name(entry_point: str) -> str:
    """Cloud Functions (2nd gen) names are Cloud Run service names: no underscores."""
    return entry_point.replace("_", "-")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
