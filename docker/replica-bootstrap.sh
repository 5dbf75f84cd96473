#!/usr/bin/env bash
# Turns an empty data directory into a streaming replica of a primary, then
# runs its arguments (in docker/compose.yaml: the postgres image's own
# `docker-entrypoint.sh postgres ...`, which finds a data directory and
# starts the server as a hot standby).
#
# Environment:
#   PGDATA                the data directory (required; the image sets one)
#   PRIMARY_HOST          the primary's host name (required)
#   PRIMARY_PORT          its port (default 5432)
#   REPLICATION_USER      a role with REPLICATION (default replicator)
#   REPLICATION_PASSWORD  its password (default: none, for trust)
#   REPLICA_NAME          this replica's application_name on the primary
#                         (default: the host name)
#   PRIMARY_WAIT_SECONDS  how long to wait for the primary (default 120)
#
# A data directory that already holds a cluster (PG_VERSION) is left as it
# is, so a restarted container keeps streaming from where it was; a
# non-empty directory without one is refused rather than wiped. When run as
# root (as Docker does), the script makes PGDATA the postgres user's and
# runs again as that user, as the image's own entrypoint does.
set -Eeuo pipefail

log() { printf 'replica-bootstrap: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

: "${PGDATA:?PGDATA must name the data directory}"
: "${PRIMARY_HOST:?PRIMARY_HOST must name the primary}"
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICATION_USER=${REPLICATION_USER:-replicator}
REPLICA_NAME=${REPLICA_NAME:-$(hostname)}
PRIMARY_WAIT_SECONDS=${PRIMARY_WAIT_SECONDS:-120}

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	if command -v gosu >/dev/null; then
		exec gosu postgres bash "${BASH_SOURCE[0]}" "$@"
	elif command -v su-exec >/dev/null; then
		exec su-exec postgres bash "${BASH_SOURCE[0]}" "$@"
	fi
	die "running as root and neither gosu nor su-exec is available to become postgres"
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
	log "$PGDATA already holds a cluster; not taking a new base backup"
elif [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
	die "$PGDATA is not empty but holds no cluster; empty it (or remove the volume) to bootstrap again"
else
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA"
	if [ -n "${REPLICATION_PASSWORD:-}" ]; then
		export PGPASSWORD="$REPLICATION_PASSWORD"
	fi

	log "waiting for $PRIMARY_HOST:$PRIMARY_PORT"
	deadline=$((SECONDS + PRIMARY_WAIT_SECONDS))
	until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -t 2; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "$PRIMARY_HOST:$PRIMARY_PORT did not accept connections within ${PRIMARY_WAIT_SECONDS}s"
		fi
		sleep 1
	done

	# -R writes standby.signal and primary_conninfo (with application_name
	# and the password, so the replica can reconnect by itself); -X stream
	# copies the WAL written during the backup; pg_basebackup removes what it
	# wrote if it fails, so the next attempt starts from an empty directory.
	log "taking a base backup of $PRIMARY_HOST:$PRIMARY_PORT as $REPLICA_NAME"
	pg_basebackup \
		--pgdata="$PGDATA" \
		--host="$PRIMARY_HOST" \
		--port="$PRIMARY_PORT" \
		--username="$REPLICATION_USER" \
		--dbname="application_name=$REPLICA_NAME" \
		--no-password \
		--write-recovery-conf \
		--wal-method=stream \
		--checkpoint=fast
	log "base backup done"
fi

if [ "$#" -gt 0 ]; then
	exec "$@"
fi
