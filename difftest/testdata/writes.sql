-- The differential write script: run in order on the router and on the
-- reference server; every statement's answer (command tag, RETURNING
-- rows as a set, error code) must match, and so must every table at the
-- end. Statements are separated by blank lines.

CREATE TABLE w_accounts (id bigint PRIMARY KEY, owner text NOT NULL, region text NOT NULL, balance numeric(12,2) NOT NULL CHECK (balance >= 0), opened date)

CREATE TABLE w_entries (account_id bigint NOT NULL, n int NOT NULL, amount numeric(12,2) NOT NULL, note text, PRIMARY KEY (account_id, n))

CREATE TABLE w_stores (region text NOT NULL, id int NOT NULL, name text, PRIMARY KEY (region, id))

CREATE TABLE w_rates (region text PRIMARY KEY, rate numeric NOT NULL)

CREATE TABLE w_plain (id bigint, owner text)

INSERT INTO w_rates (region, rate) VALUES ('us', 1.5), ('eu', 2), ('jp', 0.5)

-- Split inserts and INSERT ... SELECT through the router.
INSERT INTO w_accounts (id, owner, region, balance, opened) SELECT g, 'o' || (g % 7), (ARRAY['us', 'eu', 'jp'])[1 + g % 3], g * 10, DATE '2024-01-01' + g FROM generate_series(1, 60) g

-- Pushed down: co-located, the key kept.
INSERT INTO w_entries (account_id, n, amount, note) SELECT a.id, n, a.balance / n, 'e' || n FROM w_accounts a, generate_series(1, 3) n

-- Another distribution: through the router.
INSERT INTO w_stores (region, id, name) SELECT region, id, owner FROM w_accounts WHERE id <= 30 RETURNING region, id

-- Fan-out UPDATE and DELETE.
UPDATE w_accounts SET balance = balance + 1 WHERE owner = 'o3' RETURNING id, balance

UPDATE w_accounts a SET balance = a.balance * r.rate FROM w_rates r WHERE r.region = a.region AND a.id % 5 = 0 RETURNING a.id, a.balance

UPDATE w_entries e SET amount = e.amount + a.balance FROM w_accounts a WHERE a.id = e.account_id AND e.n = 2

DELETE FROM w_entries e USING w_accounts a WHERE a.id = e.account_id AND a.owner = 'o1' RETURNING e.account_id, e.n

DELETE FROM w_entries WHERE account_id IN (2, 3, 4, 5) AND n = 3

-- Subqueries on co-located tables by key run on each cluster.
UPDATE w_accounts a SET owner = owner || '+' WHERE EXISTS (SELECT 1 FROM w_entries e WHERE e.account_id = a.id AND e.n = 3 AND e.amount > 100) RETURNING id, owner

DELETE FROM w_entries WHERE account_id IN (SELECT id FROM w_accounts WHERE owner = 'o2') AND n = 1 RETURNING account_id

UPDATE w_accounts a SET balance = balance + 2 WHERE NOT EXISTS (SELECT 1 FROM w_entries e WHERE e.account_id = a.id)

-- error 23514
UPDATE w_accounts SET balance = balance - 100

SELECT count(*), sum(balance) FROM w_accounts

UPDATE w_accounts SET id = id, owner = upper(owner) WHERE id > 50 RETURNING id, owner

UPDATE w_accounts SET id = 7 WHERE id = 7

-- INSERT ... SELECT with RETURNING, LIMIT, aggregates, computed keys.
INSERT INTO w_entries (account_id, n, amount) SELECT id, 10, balance FROM w_accounts WHERE region = 'eu' RETURNING account_id, n, amount

INSERT INTO w_accounts (id, owner, region, balance) SELECT id + 1000, name, region, 1 FROM w_stores ORDER BY id LIMIT 5 RETURNING id, owner

INSERT INTO w_accounts (id, owner, region, balance) SELECT max(id) + 1, 'max', 'us', 0 FROM w_accounts RETURNING id

INSERT INTO w_accounts (id, owner, region, balance) VALUES (2000 + 1, 'calc', 'us', 5), (2 * 1001, 'calc2', 'eu', 6) RETURNING id, owner

INSERT INTO w_accounts (id, owner, region, balance) SELECT '3001', 'literal', 'jp', '7.5'

-- ON CONFLICT.
INSERT INTO w_accounts AS a (id, owner, region, balance) SELECT id, 'up', region, 0 FROM w_accounts WHERE id BETWEEN 10 AND 14 ON CONFLICT (id) DO UPDATE SET balance = a.balance + 1 RETURNING id, balance

INSERT INTO w_accounts (id, owner, region, balance) VALUES (1, 'x', 'us', 0), (3000, 'y', 'us', 0), (2, 'z', 'eu', 0) ON CONFLICT DO NOTHING

INSERT INTO w_accounts AS a (id, owner, region, balance) VALUES (4, 'x', 'us', 0), (3002, 'y', 'us', 0) ON CONFLICT (id) DO UPDATE SET owner = a.owner || excluded.owner RETURNING id, owner

-- Into a table outside the map and a reference table, from distributed rows.
INSERT INTO w_plain SELECT id, owner FROM w_accounts WHERE id < 10

INSERT INTO w_rates (region, rate) SELECT DISTINCT region, 9 FROM w_accounts WHERE region NOT IN (SELECT region FROM w_rates)

INSERT INTO w_rates (region, rate) SELECT 'x' || min(id), count(*) FROM w_accounts RETURNING region, rate

-- A list distribution.
INSERT INTO w_stores (region, id, name) SELECT region, id + 100, owner FROM w_accounts WHERE id BETWEEN 40 AND 45 RETURNING region, id

UPDATE w_stores SET name = name || '!' WHERE region IN ('us', 'eu')

DELETE FROM w_stores WHERE id > 100 RETURNING region, id

-- Atomic failures.
-- error 23505
INSERT INTO w_accounts (id, owner, region, balance) SELECT id + 5000, owner, region, 0 FROM w_accounts UNION ALL SELECT 5001, 'dup', 'us', 0

-- error 23505
INSERT INTO w_entries (account_id, n, amount) VALUES (1, 90, 1), (2, 90, 1), (3, 90, 1), (3, 90, 2)

SELECT * FROM w_accounts ORDER BY id

SELECT * FROM w_entries ORDER BY account_id, n

SELECT * FROM w_stores ORDER BY region, id

SELECT * FROM w_rates ORDER BY region

SELECT * FROM w_plain ORDER BY id

TRUNCATE w_entries, w_accounts

SELECT count(*) FROM w_entries
