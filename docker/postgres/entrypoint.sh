#!/bin/sh
# Initialises the cluster on first start (like the official image), then runs
# postgres in the foreground as the postgres user.
set -eu
user=${POSTGRES_USER:-postgres}
password=${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}
db=${POSTGRES_DB:-$user}
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres /run/postgresql
# Only when needed: on a snapshot's data (already the postgres user's) a recursive chown copies
# every file up through the overlay filesystem, seconds of a deployment's start.
if [ "$(stat -c %U "$PGDATA")" != postgres ]; then
    chown -R postgres:postgres "$PGDATA"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$password" > "$pwfile"
    chown postgres "$pwfile"
    su postgres -s /bin/sh -c "initdb -D '$PGDATA' -U '$user' --pwfile='$pwfile' --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8" >/dev/null
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$db" != "postgres" ]; then
        su postgres -s /bin/sh -c "postgres --single -D '$PGDATA' -c config_file='$PGDATA/postgresql.conf' postgres" >/dev/null <<SQL
CREATE DATABASE "$db" OWNER "$user";
SQL
    fi
else
    # A cluster baked into an image (a pre-migrated snapshot) takes this container's password.
    su postgres -s /bin/sh -c "postgres --single -D '$PGDATA' postgres" >/dev/null <<SQL
ALTER ROLE "$user" PASSWORD '$password';
SQL
fi
exec su postgres -s /bin/sh -c "exec postgres -D '$PGDATA'"
