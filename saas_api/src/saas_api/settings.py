"""The service's configuration, from its environment only (names follow the setup guide's .env).

Required secrets have no default, and values that look like the guide's placeholders are refused
at start-up: a gateway must not run with `sk-litellm-your-super-secure-key-here` as its key."""

from __future__ import annotations

import re
from functools import lru_cache

from cryptography.fernet import Fernet
from pydantic import AnyHttpUrl, Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Fragments of the placeholder values found in example .env files and guides.
PLACEHOLDER = re.compile(
    r"change[-_ ]?me|your[-_]|replace[-_ ]?me|placeholder|example|xxxx|\.\.\.|<[^>]*>", re.I
)
MIN_KEY_LENGTH = 32
_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _real_secret(name: str, value: SecretStr, *, prefix: str = "") -> SecretStr:
    text = value.get_secret_value()
    if PLACEHOLDER.search(text):
        raise ValueError(f"{name} holds a placeholder value; set a generated secret")
    if len(text) < MIN_KEY_LENGTH:
        raise ValueError(f"{name} is shorter than {MIN_KEY_LENGTH} characters; generate a new one")
    if prefix and not text.startswith(prefix):
        raise ValueError(f"{name} must start with {prefix!r}")
    return value


class Settings(BaseSettings):
    # Errors name the variable, never echo its value: a rejected value may still be a secret.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    # postgresql://user@host:port/db?sslmode=...; the password comes from PGPASSWORD (libpq),
    # so the URL never carries it.
    database_url: str
    # The admin key callers send as X-Admin-Key.
    master_key: SecretStr
    # One LiteLLM URL, or several separated by commas (every llm host): a request that cannot
    # connect to one is sent to the next.
    litellm_proxy_url: str
    litellm_master_key: SecretStr
    # Fernet key that encrypts stored virtual keys.
    key_encryption_secret: SecretStr
    # The model group a team gets when created without any; none means such requests are refused.
    default_model_group: str | None = None
    db_pool_size: int = Field(default=5, ge=1, le=100)
    litellm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not re.match(r"postgres(ql)?(\+psycopg)?://", value):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        if re.match(r"[^:]+://[^/@]*:[^/@]*@", value):
            raise ValueError("DATABASE_URL must not contain a password; set PGPASSWORD instead")
        return value

    @field_validator("litellm_proxy_url")
    @classmethod
    def _litellm_proxy_url(cls, value: str) -> str:
        urls = [url.strip() for url in value.split(",")]
        for url in urls:
            try:
                _HTTP_URL.validate_python(url)
            except ValidationError:
                raise ValueError(
                    "LITELLM_PROXY_URL must be http(s) URLs separated by commas"
                ) from None
        return ",".join(urls)

    @field_validator("master_key")
    @classmethod
    def _master_key(cls, value: SecretStr) -> SecretStr:
        return _real_secret("MASTER_KEY", value)

    @field_validator("litellm_master_key")
    @classmethod
    def _litellm_master_key(cls, value: SecretStr) -> SecretStr:
        return _real_secret("LITELLM_MASTER_KEY", value, prefix="sk-")

    @field_validator("key_encryption_secret")
    @classmethod
    def _key_encryption_secret(cls, value: SecretStr) -> SecretStr:
        try:
            Fernet(value.get_secret_value().encode())
        except ValueError:
            raise ValueError(
                "KEY_ENCRYPTION_SECRET must be a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", self.database_url)

    @property
    def litellm_base_urls(self) -> list[str]:
        return [url.rstrip("/") for url in self.litellm_proxy_url.split(",")]


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]  # read from the environment
