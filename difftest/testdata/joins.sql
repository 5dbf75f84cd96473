-- The join corpus: joins across the shard map, compared with one
-- PostgreSQL holding the same data, under every join strategy (see
-- TestJoins). The star schema: customers and orders co-located by
-- customer, payments distributed by order id, countries and products
-- reference tables, profiles vertically partitioned, stores and events
-- on list and range distributions. Same format as queries.sql.

-- co-located: chains of joins on the key
SELECT c.id, o.id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.tier = 2

SELECT c.id, o.id FROM customers c JOIN orders o USING (id)

SELECT c.id, count(*) FROM customers c JOIN orders o ON o.customer_id = c.id JOIN orders o2 ON o2.customer_id = o.customer_id AND o2.id <> o.id GROUP BY c.id

SELECT o.customer_id, o.id, c.name FROM orders o RIGHT JOIN customers c ON c.id = o.customer_id WHERE c.tier = 0

SELECT c.id, o.id FROM customers c FULL JOIN orders o ON o.customer_id = c.id WHERE c.tier = 1 OR o.qty = 9

SELECT count(*), count(c.id), count(o.id) FROM customers c FULL JOIN orders o ON o.customer_id = c.id

SELECT c.id, o.id FROM customers c, orders o WHERE o.customer_id = c.id AND c.balance > 9000 ORDER BY c.id, o.id

SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id IN (7, 8, 9) ORDER BY c.name, o.amount NULLS FIRST, o.id

SELECT c.country, o.status, count(*), sum(o.amount) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.country, o.status

SELECT o.customer_id, count(*) FROM customers c RIGHT JOIN orders o ON o.customer_id = c.id WHERE c.id IS NULL GROUP BY o.customer_id ORDER BY o.customer_id

SELECT c.id, sum(o.amount) OVER (PARTITION BY c.id ORDER BY o.id) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.tier = 3

-- co-located: subqueries and CTEs on the key
SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'cancelled')

SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.qty > 3)

SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 450)

SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders WHERE status = 'paid')

SELECT id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) AS n FROM customers c ORDER BY n DESC, id LIMIT 10

SELECT c.id, (SELECT max(o.placed) FROM orders o WHERE o.customer_id = c.id AND o.status = 'new') FROM customers c WHERE c.tier = 1

SELECT c.id, x.id FROM customers c CROSS JOIN LATERAL (SELECT o.id FROM orders o WHERE o.customer_id = c.id ORDER BY o.amount DESC NULLS LAST, o.id LIMIT 2) x

SELECT c.id, t.total FROM customers c JOIN (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t ON t.customer_id = c.id WHERE t.total > 1000

SELECT c.id, t.n FROM customers c LEFT JOIN (SELECT customer_id, count(*) AS n FROM orders WHERE qty > 5 GROUP BY customer_id) t ON t.customer_id = c.id ORDER BY c.id

SELECT avg(n), max(n) FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) t

WITH spend AS (SELECT customer_id, sum(amount) AS total, count(*) AS n FROM orders GROUP BY customer_id) SELECT c.country, sum(s.total), sum(s.n) FROM customers c JOIN spend s ON s.customer_id = c.id GROUP BY c.country

WITH big AS (SELECT * FROM orders WHERE amount > 400) SELECT c.name, b.id FROM customers c JOIN big b ON b.customer_id = c.id ORDER BY b.id

WITH firsts AS (SELECT DISTINCT ON (customer_id) customer_id, id, placed FROM orders ORDER BY customer_id, placed, id) SELECT f.customer_id, f.id FROM firsts f JOIN customers c ON c.id = f.customer_id WHERE c.active

WITH ranked AS (SELECT customer_id, id, rank() OVER (PARTITION BY customer_id ORDER BY amount DESC NULLS LAST, id) AS r FROM orders) SELECT customer_id, id FROM ranked WHERE r = 1 ORDER BY customer_id

SELECT c.id FROM customers c WHERE c.id IN (SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) > 7)

SELECT c.id FROM customers c WHERE c.balance > ALL (SELECT o.amount * 20 FROM orders o WHERE o.customer_id = c.id AND o.amount IS NOT NULL) AND c.tier = 2

SELECT c.id, ARRAY(SELECT o.id FROM orders o WHERE o.customer_id = c.id ORDER BY o.id) FROM customers c WHERE c.id BETWEEN 1 AND 20

-- co-located, pruned by the key
SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 42

SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id IN (3, 30, 300) ORDER BY o.id

SELECT * FROM (SELECT customer_id, count(*) AS n FROM orders WHERE customer_id IN (5, 6, 7) GROUP BY customer_id) t ORDER BY customer_id

SELECT c.id, o.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.customer_id = 5 WHERE c.tier = 3

-- reference tables
SELECT c.id, k.name, k.continent FROM customers c JOIN countries k ON k.code = c.country WHERE c.tier = 0

SELECT k.continent, count(DISTINCT c.id), sum(o.amount) FROM countries k JOIN customers c ON c.country = k.code JOIN orders o ON o.customer_id = c.id GROUP BY k.continent

SELECT c.id, k.name FROM customers c LEFT JOIN countries k ON k.code = c.country WHERE k.code IS NULL

SELECT k.code, count(c.id) FROM customers c RIGHT JOIN countries k ON k.code = c.country GROUP BY k.code ORDER BY k.code

SELECT k.code, c.id FROM countries k FULL JOIN customers c ON c.country = k.code AND c.tier = 3 WHERE k.code IS NULL OR c.id IS NULL

SELECT p.category, count(*), sum(o.qty * p.price) FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.category ORDER BY p.category

SELECT p.name FROM products p WHERE EXISTS (SELECT 1 FROM orders o WHERE o.product_id = p.id AND o.qty = 9)

SELECT p.id FROM products p WHERE p.id NOT IN (SELECT product_id FROM orders WHERE status = 'cancelled')

SELECT o.id FROM orders o WHERE o.product_id IN (SELECT id FROM products WHERE category = 'toys') AND o.customer_id < 50

SELECT o.id FROM orders o WHERE o.product_id NOT IN (SELECT id FROM products WHERE price > 150)

SELECT o.id FROM orders o WHERE o.product_id NOT IN (SELECT CASE WHEN price IS NULL THEN NULL ELSE id END FROM products WHERE category = 'food')

SELECT k.name, p.name FROM countries k CROSS JOIN products p WHERE p.id < 3 ORDER BY k.name, p.name

SELECT c.id, (SELECT k.name FROM countries k WHERE k.code = c.country) FROM customers c WHERE c.tier = 3

-- not co-located: orders (by customer) and payments (by order id)
SELECT o.id, p.seq, p.amount FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id < 30

SELECT o.id, p.seq FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.method = 'wire'

SELECT o.id, p.seq FROM orders o LEFT JOIN payments p ON p.order_id = o.id WHERE o.status = 'new'

SELECT o.id, p.order_id FROM orders o LEFT JOIN payments p ON p.order_id = o.id WHERE p.order_id IS NULL

SELECT p.order_id, p.seq, o.id FROM orders o RIGHT JOIN payments p ON p.order_id = o.id WHERE o.id IS NULL

SELECT o.id, p.order_id FROM orders o FULL JOIN payments p ON p.order_id = o.id WHERE o.id IS NULL OR p.order_id IS NULL

SELECT count(*), count(o.id), count(p.order_id) FROM orders o FULL JOIN payments p ON p.order_id = o.id

SELECT count(*) FROM orders o FULL JOIN payments p ON p.order_id = o.id AND p.method = 'card'

SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.amount > 250)

SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)

SELECT o.id FROM orders o WHERE o.id IN (SELECT order_id FROM payments WHERE method = 'cash')

SELECT o.id FROM orders o WHERE o.id NOT IN (SELECT order_id FROM payments)

SELECT o.id FROM orders o WHERE o.id NOT IN (SELECT order_id FROM payments WHERE method = 'card')

SELECT o.id FROM orders o WHERE o.qty NOT IN (SELECT seq FROM payments WHERE order_id < 100)

SELECT o.id FROM orders o WHERE o.amount NOT IN (SELECT amount FROM payments WHERE order_id < 200)

SELECT o.id FROM orders o WHERE o.amount NOT IN (SELECT amount FROM payments WHERE order_id < 200 AND amount IS NOT NULL) AND o.customer_id < 40

SELECT o.id, o.amount FROM orders o WHERE o.amount NOT IN (SELECT amount FROM payments WHERE method = 'none') AND o.customer_id < 40

SELECT o.id FROM orders o WHERE o.amount IS NULL AND o.amount NOT IN (SELECT amount FROM payments WHERE amount IS NOT NULL)

SELECT count(*), count(*) FILTER (WHERE o.amount NOT IN (SELECT amount FROM payments WHERE order_id < 50) IS NULL) FROM orders o

SELECT p.order_id, p.seq FROM payments p WHERE p.order_id NOT IN (SELECT id FROM orders WHERE customer_id < 100)

SELECT c.id FROM customers c WHERE c.tier NOT IN (SELECT p.seq FROM payments p WHERE p.order_id = c.id)

SELECT o.id FROM orders o WHERE (o.qty, o.amount) NOT IN (SELECT p.seq, p.amount FROM payments p WHERE p.order_id < 300) AND o.customer_id < 50

SELECT o.id, o.amount FROM orders o WHERE o.amount > ANY (SELECT p.amount FROM payments p WHERE p.order_id = o.id) AND o.customer_id < 100

SELECT o.id FROM orders o WHERE o.amount < ALL (SELECT p.amount FROM payments p WHERE p.order_id = o.id) AND o.customer_id < 100

SELECT o.id, (SELECT sum(p.amount) FROM payments p WHERE p.order_id = o.id) AS paid FROM orders o WHERE o.customer_id < 60

SELECT o.id, (SELECT count(*) FROM payments p WHERE p.order_id = o.id) AS n FROM orders o WHERE o.customer_id < 100 ORDER BY n DESC, o.id LIMIT 15

SELECT o.status, count(*), sum(p.amount), avg(p.amount) FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY o.status

SELECT o.status, p.method, count(*) FROM orders o LEFT JOIN payments p ON p.order_id = o.id GROUP BY o.status, p.method

SELECT o.customer_id, sum(p.amount) FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY o.customer_id HAVING sum(p.amount) > 1500

SELECT o.customer_id, sum(p.amount) AS s FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY o.customer_id ORDER BY s DESC NULLS LAST, o.customer_id LIMIT 10

SELECT p.method, count(DISTINCT o.customer_id) FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY p.method

SELECT o.id, p.seq, p.amount FROM orders o JOIN payments p ON p.order_id = o.id ORDER BY p.amount DESC NULLS LAST, o.id, p.seq LIMIT 20

SELECT o.id, p.seq FROM orders o JOIN payments p ON p.order_id = o.id ORDER BY o.id, p.seq LIMIT 10 OFFSET 100

SELECT o.id, p.paid_at FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.placed > '2024-11-15' ORDER BY p.paid_at, o.id, p.seq

SELECT max(p.paid_at - o.placed::timestamptz) FROM orders o JOIN payments p ON p.order_id = o.id

SELECT DISTINCT p.method FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.qty = 1

SELECT o.id, p.amount, rank() OVER (PARTITION BY o.customer_id ORDER BY p.amount DESC NULLS LAST, o.id, p.seq) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id < 25

SELECT o.id, p.seq FROM orders o JOIN payments p ON p.order_id = o.id AND p.amount > o.amount

SELECT o.id, p.seq FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.amount + o.amount > 600

SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id = 77

SELECT p.order_id, p.seq FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.order_id IN (10, 20, 30, 40)

-- not co-located: three-way chains
SELECT c.id, o.id, p.amount FROM customers c JOIN orders o ON o.customer_id = c.id JOIN payments p ON p.order_id = o.id WHERE c.tier = 1

SELECT c.country, sum(p.amount) FROM customers c JOIN orders o ON o.customer_id = c.id JOIN payments p ON p.order_id = o.id GROUP BY c.country

SELECT c.id, count(p.order_id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id LEFT JOIN payments p ON p.order_id = o.id GROUP BY c.id ORDER BY count(p.order_id) DESC, c.id LIMIT 12

SELECT k.continent, p.method, count(*) FROM countries k JOIN customers c ON c.country = k.code JOIN orders o ON o.customer_id = c.id JOIN payments p ON p.order_id = o.id GROUP BY k.continent, p.method

SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id = c.id AND p.method = 'wire')

SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id = c.id)

SELECT c.id, (SELECT sum(p.amount) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id = c.id) FROM customers c WHERE c.tier = 2

WITH paid AS (SELECT order_id, sum(amount) AS total FROM payments GROUP BY order_id) SELECT o.customer_id, sum(paid.total) FROM orders o JOIN paid ON paid.order_id = o.id GROUP BY o.customer_id

WITH unpaid AS (SELECT o.id, o.customer_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)) SELECT c.name, count(*) FROM unpaid u JOIN customers c ON c.id = u.customer_id GROUP BY c.name

SELECT o.id, pr.name, p.amount FROM orders o JOIN products pr ON pr.id = o.product_id JOIN payments p ON p.order_id = o.id WHERE pr.category = 'books'

SELECT pr.category, p.method, sum(p.amount) FROM payments p JOIN orders o ON o.id = p.order_id LEFT JOIN products pr ON pr.id = o.product_id GROUP BY pr.category, p.method

SELECT t.customer_id, t.paid FROM (SELECT o.customer_id, sum(p.amount) AS paid FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY o.customer_id) t WHERE t.paid > 2000

SELECT o.id FROM orders o WHERE o.id IN (SELECT p.order_id FROM payments p WHERE p.amount > (SELECT avg(amount) * 2 FROM payments))

-- not co-located: customers, stores, events, notes
SELECT c.id, s.id FROM customers c JOIN stores s ON s.region = c.country WHERE c.tier = 2

SELECT s.region, count(c.id) FROM stores s LEFT JOIN customers c ON c.country = s.region GROUP BY s.region

SELECT c.country, s.id FROM customers c RIGHT JOIN stores s ON s.region = c.country WHERE c.id IS NULL

SELECT c.id, s.id FROM customers c FULL JOIN stores s ON s.region = c.country AND c.tier = 1 WHERE c.id IS NULL OR s.id IS NULL

SELECT s.id FROM stores s WHERE s.region IN (SELECT country FROM customers WHERE balance < 0)

SELECT s.id FROM stores s WHERE s.region NOT IN (SELECT country FROM customers)

SELECT s.id FROM stores s WHERE s.region NOT IN (SELECT country FROM customers WHERE country IS NOT NULL)

SELECT e.day, e.id, c.name FROM events e JOIN customers c ON c.id = e.day WHERE e.kind = 'click'

SELECT e.kind, count(*) FROM events e JOIN customers c ON c.tier = e.day GROUP BY e.kind

SELECT e.id FROM events e WHERE e.day IN (SELECT tier FROM customers WHERE tier IS NOT NULL)

SELECT e.id FROM events e WHERE e.day NOT IN (SELECT tier FROM customers)

SELECT e.id FROM events e WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = e.day)

SELECT e.id, (SELECT c.name FROM customers c WHERE c.id = e.day) FROM events e WHERE e.day BETWEEN 1 AND 30

SELECT n.id, c.name FROM notes n JOIN customers c ON c.id = n.customer_id ORDER BY n.id

SELECT s.id, e.id FROM stores s JOIN events e ON e.id = s.id ORDER BY s.id, e.id

SELECT s.region, e.kind, count(*) FROM stores s JOIN events e ON e.day = s.id GROUP BY s.region, e.kind

-- self-joins off the key
SELECT a.id, b.id FROM customers a JOIN customers b ON a.email = b.email AND a.id <> b.id

SELECT a.id, b.id FROM customers a JOIN customers b ON b.name = a.name WHERE a.tier = 1 AND b.tier = 2

SELECT a.id, count(b.id) FROM customers a LEFT JOIN customers b ON b.country = a.country AND b.balance > a.balance GROUP BY a.id ORDER BY a.id LIMIT 25

SELECT o1.id, o2.id FROM orders o1 JOIN orders o2 ON o2.product_id = o1.product_id AND o2.placed = o1.placed AND o2.id > o1.id

SELECT p1.order_id, p2.order_id FROM payments p1 JOIN payments p2 ON p2.paid_at = p1.paid_at AND p2.order_id < p1.order_id

SELECT c.id FROM customers c WHERE c.name IN (SELECT name FROM customers WHERE tier = 0) AND c.tier = 3

-- joins with aggregates, ORDER BY and LIMIT on top
SELECT c.tier, count(*), sum(p.amount) FROM customers c JOIN orders o ON o.customer_id = c.id JOIN payments p ON p.order_id = o.id GROUP BY ROLLUP (c.tier)

SELECT c.name, count(*) AS n FROM customers c JOIN stores s ON s.region = c.country GROUP BY c.name ORDER BY n DESC, c.name LIMIT 5

SELECT o.id, p.amount FROM orders o JOIN payments p ON p.order_id = o.id ORDER BY p.amount NULLS FIRST, o.id, p.seq LIMIT 7

SELECT count(*) FROM (SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY o.id HAVING count(*) > 1) t

SELECT o.customer_id, string_agg(p.method, ',' ORDER BY p.method, o.id, p.seq) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id < 20 GROUP BY o.customer_id

SELECT p.method, percentile_cont(0.5) WITHIN GROUP (ORDER BY p.amount) FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY p.method

SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id UNION SELECT id FROM orders WHERE qty = 9

SELECT o.id, p.seq FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id < 10 ORDER BY o.id DESC, p.seq DESC FETCH FIRST 5 ROWS WITH TIES

SELECT o.customer_id, o.id, sum(p.amount) OVER (PARTITION BY o.customer_id) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id < 15

SELECT c.name, p.amount FROM customers c JOIN orders o ON o.customer_id = c.id JOIN payments p ON p.order_id = o.id ORDER BY c.name, p.amount DESC NULLS LAST, o.id, p.seq LIMIT 30

-- exactness across strategies: types, NULLs, text order
SELECT o.id, p.method FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id < 30 ORDER BY p.method NULLS FIRST, o.id, p.seq

SELECT c.name, s.name FROM customers c JOIN stores s ON s.region = c.country ORDER BY c.name, s.name, c.id

SELECT c.note, o.id FROM customers c JOIN payments p ON p.order_id = c.id JOIN orders o ON o.id = p.order_id WHERE c.note IS NOT NULL

SELECT c.mood, count(*) FROM customers c JOIN payments p ON p.seq = c.tier GROUP BY c.mood

SELECT pg_typeof(sum(p.amount)), pg_typeof(count(*)), pg_typeof(avg(o.qty)) FROM orders o JOIN payments p ON p.order_id = o.id

SELECT sum(o.qty), sum(p.seq::bigint * 1000000000000) FROM orders o JOIN payments p ON p.order_id = o.id

SELECT c.signup, p.paid_at FROM customers c JOIN payments p ON p.order_id = c.id ORDER BY c.signup, p.paid_at, c.id, p.seq

SELECT c.score, p.amount FROM customers c JOIN payments p ON p.order_id = c.id AND p.seq = 1 WHERE c.score > 10 ORDER BY c.score DESC, c.id

SELECT c.id, p.order_id FROM customers c JOIN payments p ON p.order_id = c.id AND p.seq = 2 WHERE c.id < 0 OR c.balance IS NULL

-- correlated subqueries over tables that are not co-located
SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM payments p WHERE p.order_id = c.id AND p.method = 'cash')

SELECT c.id, (SELECT max(p.amount) FROM payments p WHERE p.order_id = c.id) FROM customers c WHERE c.tier = 0

SELECT o.id FROM orders o WHERE (SELECT count(*) FROM payments p WHERE p.order_id = o.id) > 1 AND o.customer_id < 60

SELECT s.id, (SELECT count(*) FROM customers c WHERE c.country = s.region AND c.active) FROM stores s

SELECT c.id, x.amount FROM customers c CROSS JOIN LATERAL (SELECT p.amount FROM payments p WHERE p.order_id = c.id ORDER BY p.amount DESC NULLS LAST LIMIT 1) x WHERE c.tier = 1

SELECT c.id, x.n FROM customers c LEFT JOIN LATERAL (SELECT count(*) AS n FROM payments p WHERE p.order_id = c.id) x ON true WHERE c.tier = 3

SELECT e.id FROM events e WHERE e.value > (SELECT avg(c.score) FROM customers c WHERE c.tier = e.day) AND e.day < 10

-- a vertically partitioned table: profiles_core and profiles_stats
-- co-located with customers, profiles_prefs placed by another distribution
SELECT nickname, bio FROM profiles WHERE customer_id = 5

SELECT customer_id, visits FROM profiles WHERE score > 50 ORDER BY customer_id

SELECT * FROM profiles

SELECT * FROM profiles WHERE customer_id IN (1, 2, 3, 4) ORDER BY customer_id

SELECT p.nickname, p.visits, p.score FROM profiles p WHERE p.last_seen > '2024-10-01'

SELECT count(*), count(bio), sum(visits), avg(score) FROM profiles

SELECT p.theme, count(*), avg(p.score) FROM profiles p GROUP BY p.theme

SELECT p.nickname, p.lang FROM profiles p WHERE p.lang = 'fr' ORDER BY p.nickname, p.customer_id

SELECT p.nickname, c.name FROM profiles p JOIN customers c ON c.id = p.customer_id WHERE p.visits > 40

SELECT c.country, avg(p.score), count(p.customer_id) FROM customers c LEFT JOIN profiles p ON p.customer_id = c.id GROUP BY c.country

SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.customer_id = c.id)

SELECT c.id, p.theme FROM customers c JOIN profiles p ON p.customer_id = c.id WHERE c.tier = 2

SELECT p.customer_id, o.id FROM profiles p JOIN orders o ON o.customer_id = p.customer_id WHERE p.score > 95

SELECT p.customer_id, pay.amount FROM profiles p JOIN payments pay ON pay.order_id = p.customer_id WHERE pay.seq = 1

WITH top AS (SELECT customer_id, score FROM profiles ORDER BY score DESC NULLS LAST, customer_id LIMIT 10) SELECT t.customer_id, t.score, c.name FROM top t JOIN customers c ON c.id = t.customer_id ORDER BY t.customer_id

SELECT profiles.nickname FROM profiles WHERE profiles.customer_id BETWEEN 10 AND 20 AND profiles.visits > 5

SELECT p.lang, p.theme, count(*) FROM profiles p JOIN customers c ON c.id = p.customer_id GROUP BY ROLLUP (p.lang, p.theme)

SELECT x.a, x.b FROM profiles x(a, b) WHERE x.a < 10

-- errors keep their codes
-- error 42702
SELECT amount FROM orders o JOIN payments p ON p.order_id = o.id

-- error 42703
SELECT o.id FROM orders o JOIN payments p ON p.nope = o.id

-- error 22012
SELECT o.id / (p.seq - p.seq) FROM orders o JOIN payments p ON p.order_id = o.id
