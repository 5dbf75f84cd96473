"""The driver matrix scenario with psycopg 3 (drivertest/psycopg_test.go).

Reads the SCENARIO_* environment, prints one line per step, and cancels
its sleeping statement when a line arrives on standard input.
"""
import os
import sys
import threading

import psycopg

env = os.environ


def emit(line):
    print(line, flush=True)


def conninfo(password):
    return psycopg.conninfo.make_conninfo(
        host=env["SCENARIO_HOST"], port=env["SCENARIO_PORT"], user=env["SCENARIO_USER"],
        password=password, dbname=env["SCENARIO_DATABASE"], sslmode="verify-full",
        sslrootcert=env["SCENARIO_ROOTCERT"], channel_binding="require",
        application_name=env["SCENARIO_APP"])


def one(conn):
    return conn.execute("SELECT 1").fetchone()[0]


conn = psycopg.connect(conninfo(env["SCENARIO_PASSWORD"]), autocommit=True)
emit("connected")
try:
    psycopg.connect(conninfo(env["SCENARIO_PASSWORD"] + "-wrong"))
    emit("bad password: accepted")
except psycopg.Error as e:
    # libpq keeps no SQLSTATE for a failed connection: read the message,
    # whose text is 28P01's.
    emit("bad password: %s" % (e.sqlstate or ("28P01" if "password authentication failed" in str(e) else str(e))))

# prepare=True: a named statement on the server, used for both calls.
pid = int(env["SCENARIO_PREPARED_ID"])
conn.execute("INSERT INTO customers (id, name) VALUES (%s, %s)", (pid, env["SCENARIO_NAME"]), prepare=True)
row = conn.execute("SELECT name FROM customers WHERE id = %s", (pid,), prepare=True).fetchone()
emit("prepared: %s" % row[0])

ids = [int(env["SCENARIO_TXN_ID1"]), int(env["SCENARIO_TXN_ID2"])]
for end in ("rollback", "commit"):
    conn.execute("BEGIN")
    for i in ids:
        conn.execute("INSERT INTO customers (id, name) VALUES (%s, 'txn')", (i,))
    conn.execute(end.upper())
    n = conn.execute("SELECT count(*) FROM customers WHERE id = ANY(%s)", (ids,)).fetchone()[0]
    emit("%s: %d" % (end, n))

try:
    conn.execute("SELECT 1/0")
except psycopg.Error as e:
    emit("error: %s" % e.sqlstate)
emit("recovered: %d" % one(conn))
conn.execute("BEGIN")
try:
    conn.execute("SELECT 1/0")
except psycopg.Error:
    pass
try:
    one(conn)
except psycopg.Error as e:
    emit("aborted: %s" % e.sqlstate)
conn.execute("ROLLBACK")
emit("after rollback: %d" % one(conn))


def cancel_on_input():
    sys.stdin.readline()
    conn.cancel()


threading.Thread(target=cancel_on_input, daemon=True).start()
emit("sleeping")
try:
    conn.execute("SELECT pg_sleep(60)")
    emit("cancel: not canceled")
except psycopg.Error as e:
    emit("cancel: %s" % e.sqlstate)
emit("after cancel: %d" % one(conn))
conn.close()
