-- The example schema and data of docker/shardmap.yaml, run through the
-- router (it can be run again):
--   psql "postgres://app:app@127.0.0.1:6432/app?sslmode=disable" -f docker/example.sql
\set ON_ERROR_STOP on

-- DDL on tables of the shard map runs on every cluster that holds them.
CREATE TABLE IF NOT EXISTS customers (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  country text
);
CREATE TABLE IF NOT EXISTS orders (
  customer_id bigint NOT NULL,
  id bigint NOT NULL,
  amount numeric(12,2) NOT NULL,
  PRIMARY KEY (customer_id, id)
);
CREATE TABLE IF NOT EXISTS countries (code text PRIMARY KEY, name text NOT NULL);

-- A reference table: every cluster gets the rows, atomically.
INSERT INTO countries (code, name)
VALUES ('fr', 'France'), ('jp', 'Japan'), ('us', 'United States')
ON CONFLICT (code) DO NOTHING;

-- Rows go to the cluster that owns their key (these are split between s0
-- and s1, in one two-phase commit).
INSERT INTO customers (id, name, country)
VALUES (1, 'Ann', 'fr'), (2, 'Bob', 'us'), (3, 'Cy', 'jp'), (4, 'Dee', 'fr')
ON CONFLICT (id) DO NOTHING;
INSERT INTO orders (customer_id, id, amount)
VALUES (1, 1, 10.00), (1, 2, 25.50), (2, 1, 7.25), (4, 1, 99.99)
ON CONFLICT (customer_id, id) DO NOTHING;

-- One cluster: the key is fixed.
SELECT * FROM customers WHERE id = 2;
-- Co-located join with a reference table, still one cluster.
SELECT c.name, k.name AS country, sum(o.amount) AS total
FROM customers c
JOIN countries k ON k.code = c.country
JOIN orders o ON o.customer_id = c.id
WHERE c.id = 1 AND o.customer_id = 1
GROUP BY c.name, k.name;
-- Rows of both clusters: finished at the coordinator.
SELECT country, count(*) AS customers FROM customers GROUP BY country ORDER BY country;
