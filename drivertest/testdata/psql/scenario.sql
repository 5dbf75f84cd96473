-- The middle of the psql scenario (run by scenario.sh): the statements of
-- one session. psql 15 sends every statement with the simple protocol
-- (\bind arrived in psql 16), so the step other drivers run as a prepared
-- statement interpolates psql variables here.
INSERT INTO customers (id, name) VALUES (:prepared_id, :'name');
SELECT name AS n FROM customers WHERE id = :prepared_id \gset
\echo interpolated: :n

BEGIN;
INSERT INTO customers (id, name) VALUES (:txn_id1, 'txn');
INSERT INTO customers (id, name) VALUES (:txn_id2, 'txn');
ROLLBACK;
SELECT count(*) AS n FROM customers WHERE id IN (:txn_id1, :txn_id2) \gset
\echo rollback: :n
BEGIN;
INSERT INTO customers (id, name) VALUES (:txn_id1, 'txn');
INSERT INTO customers (id, name) VALUES (:txn_id2, 'txn');
COMMIT;
SELECT count(*) AS n FROM customers WHERE id IN (:txn_id1, :txn_id2) \gset
\echo commit: :n

SELECT 1/0;
\echo error: :LAST_ERROR_SQLSTATE
SELECT 1 AS n \gset
\echo recovered: :n
BEGIN;
SELECT 1/0;
SELECT 1 AS n \gset
\echo aborted: :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT 1 AS n \gset
\echo after rollback: :n
