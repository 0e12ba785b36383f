"""Settings for the metrics service (environment prefix RETHINK_)."""

import secrets

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8003, validation_alias=AliasChoices("RETHINK_METRICS_PORT"))
    # Key for pseudonymising the local child ids of imported statutory files (HMAC-SHA256).
    pseudonym_key: str | None = Field(
        default=None, validation_alias=AliasChoices("RETHINK_METRICS_PSEUDONYM_KEY")
    )

    def pseudonym_secret(self) -> bytes:
        """The configured key; in development one is generated once into the data folder."""
        if self.pseudonym_key:
            return self.pseudonym_key.encode()
        if self.env == "production":
            raise RuntimeError("RETHINK_METRICS_PSEUDONYM_KEY is required in production")
        path = self.data_dir / "metrics_pseudonym_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()
