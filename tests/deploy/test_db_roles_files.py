"""The database roles in the deployment files: the compose PostgreSQL creates them on first start
with deploy/postgres/, whose script tests/foundation/test_db_roles.py runs against a real server."""

from __future__ import annotations

import os
import re

from tests.deploy.manifests import DEPLOY, compose

ROLES = DEPLOY / "postgres"


def _script_defaults() -> dict[str, str]:
    text = (ROLES / "rethink-roles.psql").read_text()
    return dict(re.findall(r"^\\set (owner_role|app_role) (\S+)$", text, re.M))


def test_compose_postgres_creates_the_roles_on_first_start() -> None:
    postgres = compose()["services"]["postgres"]
    assert "./deploy/postgres:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    init = ROLES / "10-rethink-roles.sh"
    assert os.access(init, os.X_OK)  # the image runs executable .sh files (others it sources)
    body = init.read_text()
    assert "/docker-entrypoint-initdb.d/rethink-roles.psql" in body
    for var in ("DB_OWNER_PASSWORD", "DB_APP_PASSWORD"):
        assert f'"${var}"' in body
        assert ":?" in postgres["environment"][var]  # required, never defaulted
    # the image runs *.sql itself: the psql script (it needs variables) must not be one
    assert not list(ROLES.glob("*.sql"))


def test_compose_role_names_are_the_scripts() -> None:
    defaults = _script_defaults()
    assert defaults == {"owner_role": "rethink_owner", "app_role": "rethink_app"}
    services = compose()["services"]
    assert services["migrate"]["environment"]["RETHINK_APP_DB_ROLE"] == defaults["app_role"]
    assert "//rethink_owner:" in services["migrate"]["environment"]["DATABASE_URL"]
    for name in ("formulation", "goals", "metrics", "worker"):
        assert "//rethink_app:" in services[name]["environment"]["DATABASE_URL"]
