#!/bin/sh
# Run by the postgres image once, when it initialises an empty data volume (docker-entrypoint-initdb.d):
# creates Rethink's owner and app roles (rethink-roles.psql). For a volume that already exists, run
# the .psql file by hand as in deploy/README.md.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_password="$DB_OWNER_PASSWORD" -v app_password="$DB_APP_PASSWORD" \
  -f /docker-entrypoint-initdb.d/rethink-roles.psql
