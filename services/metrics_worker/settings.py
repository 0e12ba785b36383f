"""Settings for the metrics service (environment prefix RETHINK_)."""

import secrets
from pathlib import Path

from pydantic import AliasChoices, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from shared.errors import Problem
from shared.settings import ServiceSettings


class PseudonymKeyMissing(RuntimeError):
    """No key is configured or kept, and the records held were pseudonymised with one."""


class Settings(ServiceSettings):
    port: int = Field(default=8003, validation_alias=AliasChoices("RETHINK_METRICS_PORT"))
    # Key for pseudonymising the local child ids of imported statutory files (HMAC-SHA256).
    pseudonym_key: str | None = Field(
        default=None, validation_alias=AliasChoices("RETHINK_METRICS_PSEUDONYM_KEY")
    )

    @property
    def pseudonym_key_file(self) -> Path:
        return self.data_dir / "metrics_pseudonym_key"

    def pseudonym_secret(self) -> bytes:
        """The configured key; in development one is generated once into the data folder."""
        if self.pseudonym_key:
            return self.pseudonym_key.encode()
        if self.env == "production":
            raise RuntimeError("RETHINK_METRICS_PSEUDONYM_KEY is required in production")
        path = self.pseudonym_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    async def pseudonym_secret_for(self, session: AsyncSession) -> bytes:
        """pseudonym_secret, except that no new development key is generated once records are held:
        they were pseudonymised with another key (another data folder, or a deleted key file), and a
        new one would give the same children other pseudonyms, so a file imported again would be
        counted twice."""
        if not self.pseudonym_key and self.env != "production" and not self.pseudonym_key_file.exists():
            # Records made from the other services' events (type res_*) carry their own ids, not
            # pseudonyms: only imported and partner-sent records were keyed.
            held = await session.scalar(
                text("SELECT EXISTS (SELECT 1 FROM metrics.service_records WHERE type NOT LIKE 'res\\_%')")
            )
            if held:
                raise PseudonymKeyMissing(
                    "metrics.service_records already holds records pseudonymised with a key that is "
                    f"not in {self.pseudonym_key_file}; set RETHINK_METRICS_PSEUDONYM_KEY to that key "
                    "(or RETHINK_DATA_DIR to the data folder holding metrics_pseudonym_key) rather "
                    "than let a new key pseudonymise the same children differently"
                )
        return self.pseudonym_secret()


async def request_pseudonym_key(request: Request, session: AsyncSession) -> bytes:
    """The key for a request that pseudonymises child ids; a 503 (the service's configuration, not
    the request, is at fault) rather than a second key over records held."""
    settings: Settings = request.app.state.settings
    try:
        return await settings.pseudonym_secret_for(session)
    except PseudonymKeyMissing as exc:
        raise Problem(503, detail=str(exc), rule="pseudonym_key_missing") from None
