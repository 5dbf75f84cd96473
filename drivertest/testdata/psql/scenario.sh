#!/usr/bin/env bash
# The driver matrix scenario with the psql binary (drivertest/psql_test.go).
# Reads the SCENARIO_* environment and $PSQL, prints one line per step.
#
# psql runs a script in one session until Ctrl-C: after a canceled
# statement it ends the script (exit status 3), as it does for any script.
# So the steps run in several psql sessions: the login, a wrong password,
# the statements of scenario.sql, the canceled pg_sleep (the test sends
# SIGINT to the process group, as a terminal's Ctrl-C does), and a last
# statement afterwards.
set -u
cd "$(dirname "$0")"
conn="host=$SCENARIO_HOST port=$SCENARIO_PORT user=$SCENARIO_USER dbname=$SCENARIO_DATABASE sslmode=verify-full sslrootcert=$SCENARIO_ROOTCERT channel_binding=require application_name=$SCENARIO_APP"
export PGPASSWORD="$SCENARIO_PASSWORD"
run() { "$PSQL" -X -q -A -t -w -v VERBOSITY=sqlstate "$@" "$conn"; }

run -c '\echo connected' || exit 1

# libpq keeps no SQLSTATE for a failed login: read the message, whose text
# is 28P01's.
if out=$(PGPASSWORD="$SCENARIO_PASSWORD-wrong" run -c 'SELECT 1' 2>&1); then
  echo "bad password: accepted"
elif [[ $out == *"password authentication failed"* ]]; then
  echo "bad password: 28P01"
else
  echo "bad password: $out"
fi

run -v prepared_id="$SCENARIO_PREPARED_ID" -v name="$SCENARIO_NAME" \
  -v txn_id1="$SCENARIO_TXN_ID1" -v txn_id2="$SCENARIO_TXN_ID2" -f scenario.sql 2>/dev/null

echo sleeping
trap : INT # the shell outlives the Ctrl-C meant for psql
err=$(run -c 'SELECT pg_sleep(60)' 2>&1 >/dev/null)
code=${err##*ERROR:  }
echo "cancel: ${code:0:5}"
echo "after cancel: $(run -c 'SELECT 1')"
