"""Typed settings shared by every service; each service subclasses this once."""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import DEFAULT_ZONE


def asyncpg_url(url: str) -> str:
    """SQLAlchemy wants the driver in the scheme; operators paste plain postgres URLs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def plain_url(url: str) -> str:
    """asyncpg itself (LISTEN, COPY) wants the URL without the SQLAlchemy driver part."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


PROJECT_NAME = "rethink"
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # the checkout, when run from source


def _is_project_root(folder: Path) -> bool:
    try:
        with (folder / "pyproject.toml").open("rb") as f:
            return bool(tomllib.load(f).get("project", {}).get("name") == PROJECT_NAME)
    except (OSError, tomllib.TOMLDecodeError):
        return False


def project_root(package_parent: Path = _PACKAGE_PARENT, cwd: Path | None = None) -> Path | None:
    """The folder holding this project's pyproject.toml: the checkout the code runs from, else the
    nearest one from the current directory upwards; None when there is none (an installed copy)."""
    here = (cwd or Path.cwd()).resolve()
    candidates: Iterable[Path] = (package_parent, here, *here.parents)
    return next((c for c in candidates if _is_project_root(c)), None)


def default_data_dir() -> Path:
    """`.rethink` at the project's root, whatever the current directory: the development keys in it
    (JWT secret, pseudonym key) and the embedded servers' data must be the same from every folder.
    Without a project (an installed copy) it is in the home folder."""
    root = project_root()
    return (root if root is not None else Path.home()) / ".rethink"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETHINK_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("RETHINK_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("RETHINK_REDIS_URL", "REDIS_URL")
    )
    # `rethink migrate` only: the role the APIs and workers log in as. When set, the migration (run as
    # the schemas' owner) grants it DML on every table and nothing more, and no UPDATE, DELETE or
    # TRUNCATE on the audit logs; not being the owner, it cannot drop the audit log's triggers either.
    app_db_role: str | None = None
    # RETHINK_DATA_DIR; relative values are taken from the current directory, as usual for paths
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    # The IANA zone whose calendar "today" follows in date rules (shared.clock).
    timezone: str = DEFAULT_ZONE

    # auth: HS256 with a local secret in development, RS256 + JWKS in production
    jwt_secret: str | None = None
    jwks_url: str | None = None
    # How long the JWKS is cached: a key the IdP removes stops verifying new tokens within it.
    jwks_lifespan_seconds: float = Field(default=300.0, gt=0)
    jwt_issuer: str = "rethink-dev"
    jwt_audience: str = "rethink"

    cors_origins: list[str] = []
    max_body_bytes: int = 1_048_576
    # File uploads (statutory returns) stream to a temporary file, so they may be much larger.
    max_upload_bytes: int = 1_073_741_824
    log_level: str = "INFO"
    # Overflow connections are closed as they are returned, so under sustained load they would be
    # opened and closed per request; a fixed pool is cheaper and caps a pod at 20 connections.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    # A round trip before every checkout. Off by default: connections the server closed are
    # dropped at checkout for free (shared.db), and this ping cost a quarter of a write's time.
    db_pool_pre_ping: bool = False

    # event backbone
    queue_prefix: str = "rethink"
    # PostgreSQL serialises the commits of transactions that NOTIFY, which caps write throughput,
    # so by default the relay polls (cheaply, on a partial index); set outbox_notify for LISTEN.
    outbox_notify: bool = False
    relay_poll_seconds: float = 0.05
    consumer_poll_seconds: float = 0.01
    relay_batch_size: int = 500
    consumer_max_tries: int = 25
    consumer_concurrency: int = 1

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from exc
        return value

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (rethink dev sets it for you)")
        return asyncpg_url(self.database_url)

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set (rethink dev sets it for you)")
        return self.redis_url

    def dev_jwt_secret(self) -> str:
        """The development signing secret, generated once into the data folder."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
