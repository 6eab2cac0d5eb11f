#!/bin/sh
# PostgreSQL's image runs this once, on the first start of an empty volume (docker-entrypoint-initdb.d):
# the roles and databases of docker/create-databases.sql, with the passwords compose passes in the
# environment (STOREFRONT_DB_PASSWORD, TEMPORAL_DB_PASSWORD), which that file reads itself.
set -e
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres --file /etc/storefront/create-databases.sql
