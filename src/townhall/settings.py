"""Settings: every knob of a Townhall instance, read from ``TOWNHALL_*`` environment variables.

This module owns the names, defaults and descriptions of settings. It must not read the
environment at import time: ``Settings()`` is built by whoever starts Townhall (the CLI, a test,
an ASGI server through ``townhall.app:create_app_from_environment``) and handed to
``create_app(settings)``. The settings reference in ``docs/reference/settings.md`` is generated
from the field descriptions here, and a test fails when it is stale.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from townhall.councils import default_council_name

GSS_CODE = re.compile(r"^[EWSN]\d{8}$")
ENV_PREFIX = "TOWNHALL_"
# Variables of the test harness (tests/conftest.py), not of an instance.
TEST_HARNESS_PREFIX = "TOWNHALL_TEST_"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class Environment(StrEnum):
    """Where the instance runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    """How log lines are written."""

    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class Settings(BaseSettings):
    """The settings of one Townhall instance."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description=(
            "`development`, `test` or `production`. Production refuses to start without "
            "`TOWNHALL_SECRET_KEY` and never serves the interactive API explorer's debug detail."
        ),
    )
    database_url: str = Field(
        default="sqlite:///townhall.db",
        description=(
            "SQLAlchemy URL of the database. The default is a SQLite file `townhall.db` in the "
            "working directory. For PostgreSQL use `postgresql+psycopg://user:pass@host/db` "
            "(needs the `postgres` extra)."
        ),
    )
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = Field(
        default=10,
        description="Connections kept open per process (PostgreSQL only).",
    )
    database_echo: bool = Field(
        default=False,
        description=(
            "Log every SQL statement (development only: statements may carry personal data)."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs pagination cursors and other opaque tokens. When unset outside "
            "production, a random key is created once and kept in the database, so every worker "
            "of the instance shares it."
        ),
    )
    council_code: str = Field(
        default="E09000012",
        description=(
            "GSS code of the council this instance serves (ONS `laua`); "
            "the demo borough is built from its real postcodes. Hackney is `E09000012`."
        ),
    )
    council_name: str = Field(
        default="",
        description=(
            "The council's name, shown in the portal header and page titles. When unset, the "
            'ONS name of `TOWNHALL_COUNCIL_CODE` followed by "Council" ("Hackney Council").'
        ),
    )
    log_level: str = Field(
        default="INFO",
        description="Lowest level logged: DEBUG, INFO, WARNING, ERROR.",
    )
    log_format: LogFormat = Field(
        default=LogFormat.AUTO,
        description=(
            "`json` (one object per line, for machines), `console` (for people), or `auto`: "
            "console when the log goes to a terminal, JSON otherwise."
        ),
    )
    request_id_header: str = Field(
        default="X-Request-ID",
        description="Header that carries the request id in and out.",
    )
    idempotency_key_ttl_hours: Annotated[int, Field(ge=1, le=24 * 30)] = Field(
        default=24,
        description=(
            "How long a stored `Idempotency-Key` answer is replayed before the key may be reused."
        ),
    )
    max_request_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=1_048_576,
        description="Largest request body an API accepts; larger ones are refused with a 413.",
    )
    rate_limit_per_minute: Annotated[int, Field(ge=1)] = Field(
        default=1200,
        description=(
            "Requests a consumer may make per minute unless its own limit is set "
            "(a burst of this many, then a steady rate)."
        ),
    )
    quota_per_day: Annotated[int, Field(ge=1)] = Field(
        default=500_000,
        description="Requests a consumer may make in any 24 hours unless its own quota is set.",
    )
    public_rate_limit_per_minute: Annotated[int, Field(ge=1)] = Field(
        default=300,
        description="Requests per minute from one client address to public rate-limited routes.",
    )
    token_ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] = Field(
        default=900,
        description=(
            "Seconds an access token from `/oauth/token` is valid (at most a day; a token never "
            "outlives the grants it carries)."
        ),
    )
    access_cache_seconds: Annotated[float, Field(ge=0, le=300)] = Field(
        default=5,
        description=(
            "Seconds each worker keeps what it read of a consumer's grants and status. Disabling "
            "a consumer or revoking a grant takes effect within this time; 0 reads them on every "
            "request."
        ),
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "Redis URL (`redis://host:6379/0`, `rediss://` for TLS) where rate limits and quotas "
            "are counted, shared by every worker and machine (needs the `redis` extra). When "
            "unset, each worker counts on its own. If Redis cannot be reached, workers count on "
            "their own until it is back (docs/adr/0010-rate-limits-in-redis.md)."
        ),
    )
    events_dispatcher: bool = Field(
        default=True,
        description=(
            "Run the event dispatcher inside each `townhall serve` (and `townhall demo`) worker, "
            "so webhooks, the Redis stream and read models follow changes with nothing else to "
            "start. Turn off when dispatchers run on their own (`townhall events run`); any "
            "number may run side by side."
        ),
    )
    events_lease_seconds: Annotated[float, Field(ge=1, le=600)] = Field(
        default=15,
        description=(
            "How long a dispatcher holds a subscription (or a sink, or a read model) before "
            "another may take it over: the longest a crashed dispatcher's work waits."
        ),
    )
    events_poll_seconds: Annotated[float, Field(ge=0.05, le=60)] = Field(
        default=1.0,
        description=(
            "Seconds between a dispatcher's checks for retries that are due, and for commits "
            "it was not woken for. New events wake it at once without waiting for this."
        ),
    )
    events_webhook_timeout_seconds: Annotated[float, Field(ge=0.5, le=60)] = Field(
        default=5,
        description="Seconds a webhook receiver has to answer before the try counts as failed.",
    )
    events_webhook_concurrency: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=32,
        description=(
            "Webhook requests one dispatcher keeps in flight at once (never two for the same "
            "subject of the same subscription)."
        ),
    )
    events_max_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        default=15,
        description=(
            "Tries at delivering one event to one subscription before it goes on the dead-letter "
            "list (retried after network errors, 5xx and 429 answers only)."
        ),
    )
    events_retry_base_seconds: Annotated[float, Field(ge=0.01, le=3600)] = Field(
        default=1.0,
        description=(
            "Wait before the first retry; each later wait doubles (with jitter) up to "
            "`TOWNHALL_EVENTS_RETRY_MAX_SECONDS`. A receiver's `Retry-After` is honoured."
        ),
    )
    events_retry_max_seconds: Annotated[float, Field(ge=0.01, le=86_400)] = Field(
        default=3600,
        description="Longest wait between two tries at delivering an event.",
    )
    events_allow_private_targets: bool = Field(
        default=False,
        description=(
            "Allow webhook target URLs on private, loopback and link-local addresses. Off, such "
            "targets are refused when a subscription is made and again before each delivery "
            "(server-side request forgery). Turn on only for tests and closed networks."
        ),
    )
    events_retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=30,
        description=(
            "Days events stay in the outbox (the window for the change feed and for replays) "
            "and finished deliveries stay in the delivery log."
        ),
    )
    events_redis_stream: str | None = Field(
        default=None,
        description=(
            "Name of a Redis stream every event is appended to, for consumers on other "
            "machines (needs `TOWNHALL_REDIS_URL` and the `redis` extra). Unset: no stream."
        ),
    )
    events_redis_stream_max_length: Annotated[int, Field(ge=1000)] = Field(
        default=1_000_000,
        description="Entries the Redis stream keeps (older ones are trimmed, approximately).",
    )
    audit_retention_days: Annotated[int, Field(ge=30, le=36500)] = Field(
        default=2192,
        description=(
            "Days the audit trail keeps each record of a use of personal data (six years by "
            "default). Older records are purged up to a signed checkpoint, so what remains "
            "still verifies."
        ),
    )
    audit_checkpoint_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = Field(
        default=10,
        description=(
            "How often a served instance signs a checkpoint of the audit chain (when records "
            "were added since the last one). Records after the newest checkpoint are covered by "
            "the chain alone."
        ),
    )
    audit_show_staff_names: bool = Field(
        default=False,
        description=(
            "Show residents the name of the member of staff who used their data, not only "
            "their role. Off by default: the council decides, in its privacy notice."
        ),
    )
    people_link_threshold: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.99,
        description=(
            "Match probability from which the linkage model links two source records into one "
            "resident without a person looking."
        ),
    )
    people_review_threshold: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.80,
        description=(
            "Match probability from which a possible match below the link threshold goes to the "
            "staff review queue; below it, records are left apart."
        ),
    )
    retention_interval_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = Field(
        default=60,
        description=(
            "How often each served worker deletes expired sessions, one-time codes, sign-in "
            "attempts and idempotency keys (`townhall db purge` does it on demand)."
        ),
    )
    hsts_enabled: bool = Field(
        default=False,
        description=(
            "Send `Strict-Transport-Security`. "
            "Turn on when the instance is only reached over HTTPS."
        ),
    )
    api_docs_enabled: bool = Field(
        default=True,
        description="Serve the interactive API reference at `/api/docs`.",
    )
    session_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = Field(
        default=30,
        description=(
            "Minutes a portal sign-in (staff or resident) lasts without use before the person "
            "must sign in again."
        ),
    )
    session_absolute_hours: Annotated[int, Field(ge=1, le=24 * 30)] = Field(
        default=12,
        description="Hours after signing in that a portal sign-in ends, however much it is used.",
    )
    staff_lockout_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5,
        description=(
            "Wrong passwords in a row that lock a staff account for "
            "`TOWNHALL_STAFF_LOCKOUT_MINUTES`."
        ),
    )
    staff_lockout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = Field(
        default=15,
        description="How long a staff account stays locked after too many wrong passwords.",
    )
    sign_in_rate_limit_per_minute: Annotated[int, Field(ge=1)] = Field(
        default=10,
        description=(
            "Sign-in attempts (passwords, email addresses and codes) one client address may "
            "make per minute on the portal's sign-in pages."
        ),
    )
    one_time_code_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=5,
        description=(
            "Wrong guesses allowed at one emailed sign-in code before it stops working and the "
            "resident must ask for a new one."
        ),
    )
    one_time_codes_per_hour: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5,
        description=(
            "Sign-in codes sent to one email address in any hour, from every client address "
            "together (so nobody can flood a resident's inbox)."
        ),
    )
    notify_api_key: SecretStr | None = Field(
        default=None,
        description=(
            "GOV.UK Notify API key. When set, residents' sign-in codes are emailed through "
            "Notify; when unset, outside production they are printed on the terminal for the "
            "developer, and in production residents cannot sign in by email."
        ),
    )
    notify_sign_in_template_id: str | None = Field(
        default=None,
        description=(
            "Id of the Notify email template for sign-in codes; it must use the "
            "personalisation field `((code))`. Needed when `TOWNHALL_NOTIFY_API_KEY` is set."
        ),
    )
    notify_base_url: str = Field(
        default="https://api.notifications.service.gov.uk",
        description="Base URL of the GOV.UK Notify API.",
    )
    staff_oidc_issuer: str | None = Field(
        default=None,
        description=(
            "Issuer URL of the council's OpenID Connect identity provider for staff (its "
            "discovery document is at `<issuer>/.well-known/openid-configuration`). When set, "
            "with the client id, secret and role mapping, the staff sign-in page offers signing "
            "in through it (docs/adr/0016-openid-connect-sign-in.md)."
        ),
    )
    staff_oidc_client_id: str | None = Field(
        default=None,
        description="Client id of Townhall at the staff identity provider.",
    )
    staff_oidc_client_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Client secret of Townhall at the staff identity provider (sent as "
            "`client_secret_post`)."
        ),
    )
    staff_oidc_roles_from_groups: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "JSON object mapping identity provider groups to Townhall roles, such as "
            '`{"townhall-admins": "administrator", "housing": "housing_officer"}`. A person in '
            "none of the groups is refused; one in several gets the first that matches in this "
            "order. Their role is set again at every sign-in."
        ),
    )
    staff_oidc_groups_claim: str = Field(
        default="groups",
        description="Name of the ID token claim listing the person's groups.",
    )
    staff_oidc_provider_name: str = Field(
        default="your council account",
        description='What the staff sign-in button names the provider: "Sign in with ...".',
    )
    staff_oidc_only: bool = Field(
        default=False,
        description=(
            "Offer only the identity provider on the staff sign-in page, not email and password."
        ),
    )
    resident_oidc_issuer: str | None = Field(
        default=None,
        description=(
            "Issuer URL of the residents' OpenID Connect provider, such as GOV.UK One Login "
            "(`https://oidc.account.gov.uk/`). When set with the client id and private key, the "
            "resident sign-in page offers signing in through it."
        ),
    )
    resident_oidc_client_id: str | None = Field(
        default=None,
        description="Client id of Townhall at the residents' provider.",
    )
    resident_oidc_private_key: SecretStr | None = Field(
        default=None,
        description=(
            "The RSA private key (PEM text, or the path of a PEM file) Townhall signs its "
            "`private_key_jwt` client assertions with; the provider holds its public key."
        ),
    )
    resident_oidc_scopes: str = Field(
        default="openid email",
        description="Scopes asked of the residents' provider.",
    )
    resident_oidc_vtr: str = Field(
        default='["Cl.Cm"]',
        description=(
            "Vectors of trust asked of GOV.UK One Login (`vtr`); `Cl.Cm` is a medium level of "
            "authentication without identity proving. Empty to send none."
        ),
    )
    resident_oidc_provider_name: str = Field(
        default="GOV.UK One Login",
        description='What the resident sign-in button names the provider: "Sign in with ...".',
    )

    @field_validator("council_code")
    @classmethod
    def _council_code_is_gss(cls, value: str) -> str:
        if not GSS_CODE.match(value):
            msg = "must be a GSS code such as E09000012"
            raise ValueError(msg)
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data: Any) -> Any:
        # A misspelt variable would otherwise be ignored silently and its default used.
        known = {f"{ENV_PREFIX}{name.upper()}" for name in cls.model_fields}
        unknown = sorted(
            name
            for name in os.environ
            if name.startswith(ENV_PREFIX)
            and not name.startswith(TEST_HARNESS_PREFIX)
            and name not in known
        )
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
            msg = f"unknown setting {', '.join(hints)}: see docs/reference/settings.md"
            raise ValueError(msg)
        return data

    @model_validator(mode="after")
    def _name_the_council(self) -> Settings:
        if not self.council_name:
            # Frozen model: set the derived default once, while it is being built.
            object.__setattr__(self, "council_name", default_council_name(self.council_code))
        return self

    @model_validator(mode="after")
    def _notify_has_its_template(self) -> Settings:
        if self.notify_api_key is not None and not self.notify_sign_in_template_id:
            msg = "TOWNHALL_NOTIFY_SIGN_IN_TEMPLATE_ID must be set when TOWNHALL_NOTIFY_API_KEY is"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _redis_stream_has_its_server(self) -> Settings:
        if self.events_redis_stream is not None and self.redis_url is None:
            msg = "TOWNHALL_EVENTS_REDIS_STREAM needs TOWNHALL_REDIS_URL"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _oidc_is_complete(self) -> Settings:
        staff = [self.staff_oidc_issuer, self.staff_oidc_client_id, self.staff_oidc_client_secret]
        if any(staff) and not (all(staff) and self.staff_oidc_roles_from_groups):
            msg = (
                "staff OpenID Connect needs TOWNHALL_STAFF_OIDC_ISSUER, _CLIENT_ID, "
                "_CLIENT_SECRET and _ROLES_FROM_GROUPS together"
            )
            raise ValueError(msg)
        if self.staff_oidc_only and not all(staff):
            msg = "TOWNHALL_STAFF_OIDC_ONLY needs staff OpenID Connect configured"
            raise ValueError(msg)
        # Imported here: the settings module is read before the models are.
        from townhall.platform.auth.sign_in_models import StaffRole  # noqa: PLC0415

        roles = {role.value for role in StaffRole}
        unknown = sorted(set(self.staff_oidc_roles_from_groups.values()) - roles)
        if unknown:
            msg = f"TOWNHALL_STAFF_OIDC_ROLES_FROM_GROUPS names unknown roles: {unknown}"
            raise ValueError(msg)
        resident = [
            self.resident_oidc_issuer,
            self.resident_oidc_client_id,
            self.resident_oidc_private_key,
        ]
        if any(resident) and not all(resident):
            msg = (
                "resident OpenID Connect needs TOWNHALL_RESIDENT_OIDC_ISSUER, _CLIENT_ID and "
                "_PRIVATE_KEY together"
            )
            raise ValueError(msg)
        return self

    @field_validator("resident_oidc_vtr")
    @classmethod
    def _vtr_is_a_json_list(cls, value: str) -> str:
        if value:
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
                msg = 'must be a JSON list of strings, such as ["Cl.Cm"]'
                raise ValueError(msg)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_redis(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(REDIS_SCHEMES):
            msg = f"must be a Redis URL starting with {', '.join(REDIS_SCHEMES)}"
            raise ValueError(msg)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_known(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            msg = "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
            raise ValueError(msg)
        return upper

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite default."""
        return self.database_url.startswith("sqlite")
