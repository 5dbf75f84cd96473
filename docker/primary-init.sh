#!/usr/bin/env bash
# Prepares a shard primary for streaming replicas: creates the replication
# role and lets it connect for replication from any address with a
# password. The postgres image runs this once, from
# /docker-entrypoint-initdb.d, when it initialises an empty data directory
# (it may source the file rather than run it: no `exit`, no `set -e` here;
# the image's entrypoint already stops at the first failing command).
#
# Environment:
#   PGDATA                the data directory (pg_hba.conf is there)
#   REPLICATION_USER      the role to create (default replicator)
#   REPLICATION_PASSWORD  its password (required)
#   POSTGRES_USER, POSTGRES_DB  who runs the CREATE ROLE, and where
#                         (defaults postgres, postgres); PGHOST/PGPORT as
#                         usual for psql

sqlrouter_primary_init() {
	local user=${REPLICATION_USER:-replicator}
	local password=${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}
	local hba="${PGDATA:?PGDATA must name the data directory}/pg_hba.conf"

	# psql quotes the values itself (:'name' and format's %I and %L).
	psql -v ON_ERROR_STOP=1 --no-psqlrc \
		--username="${POSTGRES_USER:-postgres}" --dbname="${POSTGRES_DB:-postgres}" \
		--set=repl_user="$user" --set=repl_password="$password" <<-'SQL' || return 1
		SELECT format('CREATE ROLE %I WITH LOGIN REPLICATION PASSWORD %L', :'repl_user', :'repl_password')
		WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'repl_user')
		\gexec
	SQL

	local line="host replication $user all scram-sha-256"
	if ! grep -qxF "$line" "$hba"; then
		printf '%s\n' "$line" >>"$hba" || return 1
	fi
	# The image restarts the server after its init scripts; a server that is
	# already running (outside the image) needs the reload.
	psql -v ON_ERROR_STOP=1 --no-psqlrc -Atq \
		--username="${POSTGRES_USER:-postgres}" --dbname="${POSTGRES_DB:-postgres}" \
		-c 'SELECT pg_reload_conf()' >/dev/null || return 1
	printf 'primary-init: role %s may stream from this primary\n' "$user" >&2
}

sqlrouter_primary_init
