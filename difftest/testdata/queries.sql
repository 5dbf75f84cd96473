-- The differential corpus: every query must give the same answer through
-- the router as from one PostgreSQL with the same data. Queries are
-- separated by blank lines; rows are compared in order when the query has
-- a top-level ORDER BY (which must then fix the order), as a multiset
-- otherwise. "-- error CODE" before a query expects that error from both.

-- single table scans
SELECT * FROM customers

SELECT id, name FROM customers WHERE tier = 2

SELECT id, name, balance FROM customers WHERE balance > 1000

SELECT id FROM customers WHERE name = 'Ann'

SELECT id FROM customers WHERE name LIKE 'A%' OR name ILIKE 'b%'

SELECT id FROM customers WHERE email IS NULL

SELECT id FROM customers WHERE country IS NOT NULL AND active

SELECT id FROM customers WHERE NOT active

SELECT id, score FROM customers WHERE score BETWEEN 10 AND 20

SELECT id FROM customers WHERE id < 0

SELECT id, note FROM customers WHERE note IS NOT NULL

SELECT id, upper(name), length(name), coalesce(email, '-') FROM customers

SELECT id, balance * 2, balance / 3, balance::int FROM customers WHERE balance IS NOT NULL

SELECT id, signup, signup AT TIME ZONE 'Asia/Tokyo', date_trunc('month', signup) FROM customers

SELECT * FROM orders

SELECT customer_id, id, amount FROM orders WHERE status = 'paid' AND qty > 5

SELECT * FROM orders WHERE amount IS NULL

SELECT * FROM orders WHERE placed >= '2024-06-01' AND placed < '2024-07-01'

SELECT * FROM stores

SELECT * FROM stores WHERE sales > 100000000

SELECT * FROM events

SELECT * FROM events WHERE value > 500 AND flag

SELECT day, id, kind FROM events WHERE kind IN ('buy', 'error')

SELECT * FROM countries

SELECT * FROM products WHERE price IS NULL OR price > 100

SELECT * FROM notes

SELECT id, name FROM customers WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)

SELECT id, name FROM customers WHERE id = 1 OR id = 2 OR id = 3

SELECT id, name FROM customers WHERE id = ANY(ARRAY[11, 12, 13, 14])

SELECT id FROM customers WHERE id NOT IN (1, 2, 3)

-- ORDER BY
SELECT id, name FROM customers ORDER BY id

SELECT id, name FROM customers ORDER BY id DESC

SELECT id, balance FROM customers ORDER BY balance NULLS FIRST, id

SELECT id, balance FROM customers ORDER BY balance DESC NULLS LAST, id

SELECT id, balance FROM customers ORDER BY balance DESC, id

SELECT id, name FROM customers ORDER BY name, id

SELECT id, name FROM customers ORDER BY name DESC, id DESC

SELECT name FROM customers ORDER BY id

SELECT id FROM customers ORDER BY score, id

SELECT id, tier FROM customers ORDER BY tier NULLS FIRST, balance DESC NULLS LAST, id

SELECT id, name FROM customers ORDER BY length(name), id

SELECT id, name FROM customers ORDER BY lower(name) DESC, id

SELECT id, balance FROM customers ORDER BY abs(balance) NULLS FIRST, id

SELECT id, name FROM customers ORDER BY 2, 1

SELECT id AS key, name FROM customers ORDER BY key DESC

SELECT id, signup FROM customers ORDER BY signup, id

SELECT customer_id, id, amount FROM orders ORDER BY amount DESC NULLS LAST, customer_id, id

SELECT customer_id, id FROM orders ORDER BY placed, customer_id, id

SELECT day, id FROM events ORDER BY day, id

SELECT region, id, sales FROM stores ORDER BY sales DESC NULLS LAST, region, id

SELECT note, id FROM customers ORDER BY note NULLS FIRST, id

-- LIMIT / OFFSET
SELECT id FROM customers ORDER BY id LIMIT 10

SELECT id FROM customers ORDER BY id LIMIT 10 OFFSET 20

SELECT id FROM customers ORDER BY id OFFSET 290

SELECT id, name FROM customers ORDER BY name, id LIMIT 7

SELECT id, balance FROM customers ORDER BY balance DESC NULLS LAST, id LIMIT 5 OFFSET 3

SELECT customer_id, id FROM orders ORDER BY customer_id DESC, id DESC LIMIT 15

SELECT id FROM customers ORDER BY id FETCH FIRST 3 ROWS ONLY

SELECT count(*) FROM (SELECT id FROM customers LIMIT 10) s

SELECT id FROM customers ORDER BY id LIMIT 0

SELECT id FROM customers ORDER BY id LIMIT ALL OFFSET 295

-- aggregates
SELECT count(*) FROM customers

SELECT count(*), count(email), count(DISTINCT country) FROM customers

SELECT sum(balance), min(balance), max(balance), avg(balance) FROM customers

SELECT sum(tier), avg(tier), min(tier), max(tier) FROM customers

SELECT sum(qty), avg(qty) FROM orders

SELECT sum(sales), avg(sales) FROM stores

SELECT sum(id) FROM customers

SELECT min(name), max(name) FROM customers

SELECT min(signup), max(signup) FROM customers

SELECT bool_and(active), bool_or(active), every(active) FROM customers

SELECT count(*) FROM customers WHERE false

SELECT sum(balance), avg(balance), max(name) FROM customers WHERE id = -1000

SELECT country, count(*) FROM customers GROUP BY country

SELECT country, count(*), sum(balance) FROM customers GROUP BY country ORDER BY country NULLS FIRST

SELECT country, tier, count(*) FROM customers GROUP BY country, tier

SELECT country, avg(balance) FROM customers GROUP BY country HAVING count(*) > 25

SELECT country, sum(balance) AS total FROM customers GROUP BY country HAVING sum(balance) > 10000 ORDER BY total DESC

SELECT tier, count(*) * 2 + 1, round(avg(balance), 2), max(balance) - min(balance) FROM customers GROUP BY tier

SELECT status, count(*), sum(amount), avg(qty) FROM orders GROUP BY status ORDER BY status

SELECT customer_id, count(*), sum(amount) FROM orders GROUP BY customer_id ORDER BY customer_id

SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) >= 8 ORDER BY customer_id

SELECT product_id, count(DISTINCT customer_id) FROM orders GROUP BY product_id

SELECT count(DISTINCT status), count(DISTINCT product_id) FROM orders

SELECT lower(name), count(*) FROM customers GROUP BY lower(name)

SELECT length(name) AS l, count(*) FROM customers GROUP BY l ORDER BY l

SELECT tier, count(*) FROM customers GROUP BY 1 ORDER BY 1 NULLS LAST

SELECT date_trunc('month', signup) AS m, count(*) FROM customers GROUP BY m ORDER BY m

SELECT extract(month FROM placed) AS m, sum(amount) FROM orders GROUP BY m ORDER BY m

SELECT country, string_agg(name, ',' ORDER BY name, id) FROM customers GROUP BY country

SELECT country, array_agg(id ORDER BY id) FROM customers GROUP BY country

SELECT status, string_agg(DISTINCT (qty::text), '|' ORDER BY (qty::text)) FROM orders GROUP BY status

SELECT kind, sum(value), avg(value), count(*) FILTER (WHERE flag) FROM events GROUP BY kind

SELECT region, sum(sales), count(sales) FROM stores GROUP BY region ORDER BY region

SELECT continent, count(*) FROM countries GROUP BY continent

SELECT country, tier, count(*) FROM customers GROUP BY ROLLUP (country, tier)

SELECT country, tier, count(*) FROM customers GROUP BY CUBE (country, tier)

SELECT country, active, sum(balance) FROM customers GROUP BY GROUPING SETS ((country), (active), ())

SELECT country, tier, GROUPING(country, tier), count(*) FROM customers GROUP BY ROLLUP (country, tier)

SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY balance) FROM customers

SELECT mode() WITHIN GROUP (ORDER BY tier) FROM customers

SELECT jsonb_agg(id ORDER BY id) FROM customers WHERE tier = 1

SELECT count(*) FROM orders WHERE amount > (SELECT avg(amount) FROM orders)

SELECT max(amount) - min(amount) FROM orders

SELECT sum(amount) / count(*) FROM orders

SELECT stddev_samp(balance)::numeric(20,6), var_pop(balance)::numeric(20,6) FROM customers

SELECT count(*) FROM events WHERE day BETWEEN 90 AND 110

SELECT sum(id::bigint * 1000000000000) FROM customers

SELECT sum(sales) FROM stores WHERE sales > 0

-- DISTINCT
SELECT DISTINCT country FROM customers

SELECT DISTINCT country, tier FROM customers

SELECT DISTINCT status FROM orders ORDER BY status

SELECT count(DISTINCT name) FROM customers

SELECT DISTINCT ON (country) country, id, balance FROM customers ORDER BY country, balance DESC NULLS LAST, id

SELECT DISTINCT ON (status) status, customer_id, id FROM orders ORDER BY status, amount DESC NULLS LAST, customer_id, id

SELECT DISTINCT lower(name) FROM customers

SELECT DISTINCT tier FROM customers ORDER BY tier NULLS FIRST

SELECT DISTINCT kind, flag FROM events

SELECT DISTINCT product_id FROM orders WHERE qty > 7

-- joins: co-located
SELECT c.id, c.name, o.id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id

SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id

SELECT c.country, sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.country

SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = 'shipped' AND c.tier = 3

SELECT o.customer_id, o.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL

SELECT c.id, o.id FROM customers c FULL JOIN orders o ON o.customer_id = c.id WHERE c.id IS NULL OR o.id IS NULL

SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.amount DESC NULLS LAST, o.customer_id, o.id LIMIT 10

SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.qty = 9)

SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)

SELECT c.id FROM customers c WHERE c.id IN (SELECT customer_id FROM orders WHERE status = 'cancelled')

SELECT c.id FROM customers c WHERE c.id NOT IN (SELECT customer_id FROM orders)

SELECT c.id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) FROM customers c

SELECT c.id, (SELECT max(amount) FROM orders o WHERE o.customer_id = c.id) AS top FROM customers c ORDER BY c.id

-- joins: with reference tables
SELECT c.id, k.name FROM customers c JOIN countries k ON k.code = c.country

SELECT k.continent, count(*) FROM customers c JOIN countries k ON k.code = c.country GROUP BY k.continent

SELECT k.code, count(c.id) FROM countries k LEFT JOIN customers c ON c.country = k.code GROUP BY k.code

SELECT k.code, c.id FROM countries k LEFT JOIN customers c ON c.country = k.code AND c.tier = 0

SELECT o.customer_id, o.id, p.name, p.price * o.qty FROM orders o JOIN products p ON p.id = o.product_id

SELECT o.customer_id, o.id FROM orders o LEFT JOIN products p ON p.id = o.product_id WHERE p.id IS NULL

SELECT p.category, sum(o.qty) FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.category ORDER BY p.category

SELECT k.name FROM countries k WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.country = k.code)

SELECT k.name FROM countries k WHERE k.code IN (SELECT country FROM customers WHERE tier = 3)

SELECT c.id, k.name, o.id FROM customers c JOIN countries k ON k.code = c.country JOIN orders o ON o.customer_id = c.id WHERE k.continent = 'Asia'

-- joins: not co-located
SELECT s.region, s.id, k.name FROM stores s JOIN countries k ON k.code = s.region

SELECT c.id, s.id FROM customers c JOIN stores s ON s.region = c.country WHERE c.tier = 1

SELECT c.country, count(DISTINCT s.id) FROM customers c JOIN stores s ON s.region = c.country GROUP BY c.country

SELECT e.day, e.id, c.name FROM events e JOIN customers c ON c.id = e.day WHERE e.kind = 'buy'

SELECT o.customer_id, o.id, e.kind FROM orders o JOIN events e ON e.id = o.id WHERE e.flag

SELECT n.id, c.name FROM notes n JOIN customers c ON c.id = n.customer_id

SELECT n.id, c.name FROM notes n LEFT JOIN customers c ON c.id = n.customer_id ORDER BY n.id

SELECT c.id, n.body FROM customers c LEFT JOIN notes n ON n.customer_id = c.id WHERE c.tier = 2

SELECT a.id, b.id FROM customers a JOIN customers b ON a.email = b.email AND a.id < b.id

SELECT a.id, b.id FROM customers a JOIN customers b ON a.name = b.name AND a.id < b.id ORDER BY a.id, b.id LIMIT 20

SELECT c1.country, c2.continent, count(*) FROM customers c1 CROSS JOIN countries c2 WHERE c1.tier = 3 GROUP BY c1.country, c2.continent

SELECT s.id FROM stores s WHERE EXISTS (SELECT 1 FROM customers c WHERE c.country = s.region AND c.balance > 10000)

SELECT e.id FROM events e WHERE e.day IN (SELECT tier FROM customers)

-- subqueries and CTEs
SELECT * FROM (SELECT id, balance FROM customers WHERE balance > 0) s WHERE s.id > 100

SELECT avg(n) FROM (SELECT count(*) AS n FROM orders GROUP BY customer_id) s

SELECT max(total) FROM (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) s

WITH big AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) SELECT c.name, b.total FROM big b JOIN customers c ON c.id = b.customer_id WHERE b.total > 1500

WITH t AS (SELECT country, count(*) AS n FROM customers GROUP BY country) SELECT * FROM t WHERE n > 20

WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT r.n, count(c.id) FROM r LEFT JOIN customers c ON c.tier = r.n GROUP BY r.n

WITH x AS MATERIALIZED (SELECT * FROM orders WHERE qty > 8) SELECT status, count(*) FROM x GROUP BY status

SELECT id FROM customers WHERE balance > (SELECT avg(balance) FROM customers)

SELECT id FROM customers WHERE balance = (SELECT max(balance) FROM customers)

SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), (SELECT count(*) FROM events)

SELECT c.id, x.amount FROM customers c, LATERAL (SELECT amount FROM orders o WHERE o.customer_id = c.id ORDER BY amount DESC NULLS LAST, o.id LIMIT 1) x

SELECT c.id, x.n FROM customers c LEFT JOIN LATERAL (SELECT count(*) AS n FROM orders o WHERE o.customer_id = c.id) x ON true WHERE c.tier = 0

SELECT country FROM customers GROUP BY country HAVING count(*) > (SELECT count(*) / 12 FROM customers)

SELECT * FROM products WHERE id IN (SELECT product_id FROM orders GROUP BY product_id HAVING count(*) > 50)

SELECT id, (SELECT name FROM countries k WHERE k.code = c.country) FROM customers c WHERE tier = 1

SELECT c.id FROM customers c WHERE c.balance > ALL (SELECT amount FROM orders o WHERE o.customer_id = c.id AND amount IS NOT NULL)

SELECT c.id FROM customers c WHERE c.balance < ANY (SELECT amount FROM orders o WHERE o.customer_id = c.id)

SELECT count(*) FROM customers c WHERE EXISTS (SELECT 1 FROM stores s WHERE s.region = c.country)

-- set operations
SELECT id FROM customers WHERE tier = 1 UNION SELECT customer_id FROM orders WHERE qty = 9

SELECT id FROM customers WHERE tier = 1 UNION ALL SELECT customer_id FROM orders WHERE qty = 9

SELECT id FROM customers INTERSECT SELECT customer_id FROM orders

SELECT id FROM customers EXCEPT SELECT customer_id FROM orders

SELECT customer_id FROM orders EXCEPT ALL SELECT id FROM customers

SELECT country FROM customers UNION SELECT region FROM stores ORDER BY 1

SELECT code FROM countries EXCEPT SELECT country FROM customers WHERE country IS NOT NULL

SELECT day FROM events WHERE kind = 'buy' INTERSECT ALL SELECT day FROM events WHERE kind = 'view'

SELECT id, 'c' FROM customers WHERE tier = 0 UNION ALL SELECT id, 's' FROM stores ORDER BY 2, 1

SELECT count(*) FROM (SELECT id FROM customers UNION SELECT id FROM products) u

(SELECT id FROM customers ORDER BY id LIMIT 3) UNION ALL (SELECT id FROM customers ORDER BY id DESC LIMIT 3)

SELECT name FROM customers UNION SELECT name FROM products UNION SELECT name FROM countries

-- window functions
SELECT id, country, row_number() OVER (PARTITION BY country ORDER BY id) FROM customers

SELECT id, balance, rank() OVER (ORDER BY balance DESC NULLS LAST) FROM customers

SELECT id, sum(balance) OVER (ORDER BY id) FROM customers ORDER BY id

SELECT customer_id, id, sum(amount) OVER (PARTITION BY customer_id ORDER BY id) FROM orders

SELECT customer_id, id, amount, lag(amount) OVER (PARTITION BY customer_id ORDER BY id) FROM orders

SELECT id, tier, count(*) OVER (PARTITION BY tier) FROM customers

SELECT id, ntile(4) OVER (ORDER BY id) FROM customers ORDER BY id

SELECT day, id, avg(value) OVER (PARTITION BY kind ORDER BY day, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM events

SELECT * FROM (SELECT customer_id, id, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC NULLS LAST, id) AS rn FROM orders) s WHERE rn = 1

SELECT id, first_value(name) OVER w, last_value(name) OVER w FROM customers WINDOW w AS (PARTITION BY country ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)

SELECT country, count(*), rank() OVER (ORDER BY count(*) DESC, country NULLS LAST) FROM customers GROUP BY country

SELECT id, dense_rank() OVER (ORDER BY tier NULLS FIRST) FROM customers

-- pruning to a subset of clusters
SELECT * FROM events WHERE day = 150

SELECT * FROM events WHERE day IN (5, 150, 250)

SELECT * FROM events WHERE day BETWEEN 50 AND 150

SELECT * FROM events WHERE day < 0

SELECT * FROM events WHERE day >= 200 AND kind = 'click'

SELECT count(*) FROM events WHERE day > 99 AND day < 100

SELECT * FROM stores WHERE region = 'eu'

SELECT * FROM stores WHERE region IN ('us', 'jp')

SELECT * FROM stores WHERE region = 'br'

SELECT * FROM stores WHERE region = 'zz'

SELECT count(*) FROM stores WHERE region IN ('eu', 'uk')

SELECT * FROM customers WHERE id IN (1, 100, 200, 300)

SELECT * FROM orders WHERE customer_id IN (5, 6) ORDER BY customer_id, id

SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id IN (7, 8) AND o.customer_id IN (7, 8)

SELECT * FROM customers WHERE id = 42

SELECT count(*) FROM orders WHERE customer_id = 42

SELECT * FROM events WHERE day = 150 OR day = 151

-- exactness: numeric scale, integer promotion, NULL order, time zones
SELECT sum(balance), avg(balance) FROM customers WHERE tier = 1

SELECT avg(qty), avg(qty::numeric(10,3)) FROM orders

SELECT sum(qty::smallint), sum(qty::int), sum(qty::bigint) FROM orders

SELECT 9223372036854775807::bigint + 0 AS big, sum(sales * 1000) FROM stores

SELECT sum(amount * 1.005), sum(round(amount, 1)) FROM orders

SELECT avg(value), sum(value) FROM events

SELECT id, signup::date, to_char(signup, 'YYYY-MM-DD HH24:MI TZ') FROM customers ORDER BY id LIMIT 20

SELECT min(placed), max(placed), max(placed) - min(placed) FROM orders

SELECT id, balance FROM customers ORDER BY balance NULLS FIRST, id LIMIT 20

SELECT tier, count(*) FROM customers GROUP BY tier ORDER BY tier DESC NULLS FIRST

SELECT name FROM customers ORDER BY name COLLATE "C", id

SELECT id, score, score * 3 FROM customers ORDER BY score DESC, id LIMIT 10

SELECT country, count(*) FROM customers GROUP BY country ORDER BY count(*) DESC, country NULLS FIRST

SELECT id, to_char(balance, 'FM999999.00') FROM customers WHERE balance IS NOT NULL ORDER BY id LIMIT 10

SELECT count(*), count(1), count(NULL::int) FROM orders

SELECT pg_typeof(sum(qty)), pg_typeof(sum(customer_id)), pg_typeof(avg(qty)), pg_typeof(sum(amount)) FROM orders

-- a user-defined type: the coordinator has it too
SELECT id, mood FROM customers ORDER BY mood DESC NULLS LAST, id LIMIT 15

SELECT mood, count(*) FROM customers GROUP BY mood ORDER BY mood NULLS FIRST

SELECT DISTINCT mood FROM customers

SELECT c.mood, k.continent, count(*) FROM customers c LEFT JOIN countries k ON k.code = c.country GROUP BY c.mood, k.continent

SELECT max(mood), min(mood) FROM customers

SELECT id FROM customers WHERE mood > 'sad' ORDER BY id LIMIT 10

-- IS NULL over NOT, AND or OR, which the deparser must parenthesize
SELECT count(*) FILTER (WHERE (NOT active OR tier > 1) IS NULL), count(*) FILTER (WHERE (active AND tier > 1) IS NOT NULL) FROM customers

SELECT id FROM customers WHERE (NOT active) IS NULL ORDER BY id

-- and every other operand it would print bare: BETWEEN bounds, IN and
-- comparison operands, nested tests
SELECT count(*) FILTER (WHERE active BETWEEN (tier > 1 OR email IS NULL) AND true), count(*) FILTER (WHERE (tier > 1 AND active) NOT BETWEEN false AND (email IS NULL)) FROM customers

SELECT count(*) FILTER (WHERE (active OR tier > 2) IN (false)), count(*) FILTER (WHERE (email IS NULL) IS NULL), count(*) FILTER (WHERE ((NOT active) IS TRUE) IS NOT NULL) FROM customers

SELECT tier, count(*) FROM customers WHERE (tier > 1 OR active) IS DISTINCT FROM (email IS NULL AND active) GROUP BY tier ORDER BY tier

-- errors
-- error 22012
SELECT sum(qty) / 0 FROM orders

-- error 22012
SELECT id / (tier - tier) FROM customers WHERE tier IS NOT NULL

-- error 42703
SELECT nope FROM customers

-- error 42P01
SELECT * FROM no_such_table JOIN customers ON true

-- error 42803
SELECT name, count(*) FROM customers
