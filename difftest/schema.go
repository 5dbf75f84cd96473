// Package difftest is the differential test of distributed reads: one data
// set loaded through the router into three clusters (hash, range and list
// distributions, reference tables, a table outside the map) and into one
// plain PostgreSQL; every query of testdata/queries.sql must give the same
// answer from both.
package difftest

import (
	"fmt"
	"math"
	"strings"
)

// schema creates the tables, on the router and on the reference server.
var schema = []string{
	`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
	`CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text, country text, tier int, balance numeric(12,2), score double precision, active boolean, signup timestamptz, note text, mood mood)`,
	`CREATE TABLE orders (customer_id bigint NOT NULL, id bigint NOT NULL, amount numeric(12,2), qty int, status text, product_id int, placed date, PRIMARY KEY (customer_id, id))`,
	`CREATE TABLE stores (region text NOT NULL, id int NOT NULL, name text, sales bigint, opened date, PRIMARY KEY (region, id))`,
	`CREATE TABLE events (day int NOT NULL, id int NOT NULL, kind text, value numeric, flag boolean, PRIMARY KEY (day, id))`,
	`CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL, continent text)`,
	`CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), category text)`,
	`CREATE TABLE notes (id int PRIMARY KEY, customer_id bigint, body text)`,
	`CREATE TABLE payments (order_id bigint NOT NULL, seq int NOT NULL, amount numeric(12,2), method text, paid_at timestamptz, PRIMARY KEY (order_id, seq))`,
	// Vertically partitioned through the router (three groups, one placed
	// by another distribution); one table on the reference server.
	`CREATE TABLE profiles (customer_id bigint PRIMARY KEY, nickname text NOT NULL, bio text, visits int DEFAULT 0, score numeric(6,2), last_seen date, theme text, lang text CHECK (lang <> ''))`,
}

// rng is a small deterministic generator (the data must be the same in
// every run).
type rng uint64

func (r *rng) next() uint64 {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	return uint64(*r)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// data returns INSERT statements that fill the tables.
func data() []string {
	r := rng(42)
	var out []string
	countries := [][3]string{{"us", "United States", "America"}, {"ca", "Canada", "America"}, {"fr", "France", "Europe"}, {"de", "Germany", "Europe"}, {"jp", "Japan", "Asia"}, {"au", "Australia", "Oceania"}, {"br", "Brazil", "America"}, {"uk", "United Kingdom", "Europe"}, {"in", "India", "Asia"}, {"eg", "Egypt", "Africa"}}
	var vals []string
	for _, c := range countries {
		vals = append(vals, fmt.Sprintf("('%s', '%s', '%s')", c[0], c[1], c[2]))
	}
	out = append(out, "INSERT INTO countries (code, name, continent) VALUES "+strings.Join(vals, ", "))

	cats := []string{"tools", "toys", "food", "books", "garden"}
	vals = nil
	for i := 1; i <= 30; i++ {
		price := "NULL"
		if i%11 != 0 {
			price = fmt.Sprintf("%d.%02d", r.intn(200), r.intn(100))
		}
		vals = append(vals, fmt.Sprintf("(%d, 'product %02d', %s, '%s')", i, i, price, cats[r.intn(len(cats))]))
	}
	out = append(out, "INSERT INTO products (id, name, price, category) VALUES "+strings.Join(vals, ", "))

	names := []string{"Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu", "ann", "bob", "Zoë", "Åsa", "Émile", "O'Neil"}
	for chunk := 0; chunk < 3; chunk++ {
		vals = nil
		for i := chunk*100 + 1; i <= chunk*100+100; i++ {
			id := int64(i)
			if i%37 == 0 {
				id = -id
			}
			country := "NULL"
			if i%13 != 0 {
				country = "'" + countries[r.intn(len(countries))][0] + "'"
			}
			email := "NULL"
			if i%7 != 0 {
				email = fmt.Sprintf("'user%d@example.com'", i)
			}
			tier := "NULL"
			if i%9 != 0 {
				tier = fmt.Sprint(r.intn(4))
			}
			balance := fmt.Sprintf("%d.%02d", int(r.intn(20000))-5000, r.intn(100))
			if i%17 == 0 {
				balance = "NULL"
			}
			score := fmt.Sprintf("%.3f", math.Round(float64(r.intn(100000))/7)/100)
			active := []string{"true", "false", "NULL"}[r.intn(3)]
			signup := fmt.Sprintf("'2024-%02d-%02d %02d:%02d:00+00'", 1+r.intn(12), 1+r.intn(28), r.intn(24), r.intn(60))
			name := names[r.intn(len(names))]
			mood := []string{"'sad'", "'ok'", "'happy'", "NULL"}[r.intn(4)]
			vals = append(vals, fmt.Sprintf("(%d, '%s', %s, %s, %s, %s, %s, %s, %s, %s, %s)", id, strings.ReplaceAll(name, "'", "''"), email, country, tier, balance, score, active, signup, noteFor(i), mood))
		}
		out = append(out, "INSERT INTO customers (id, name, email, country, tier, balance, score, active, signup, note, mood) VALUES "+strings.Join(vals, ", "))
	}

	statuses := []string{"new", "paid", "shipped", "cancelled"}
	for chunk := 0; chunk < 6; chunk++ {
		vals = nil
		for i := chunk*250 + 1; i <= chunk*250+250; i++ {
			cust := int64(1 + r.intn(300))
			if cust%37 == 0 {
				cust = -cust
			}
			if i%50 == 0 {
				cust = 1000 + int64(i) // orders of customers that do not exist
			}
			amount := fmt.Sprintf("%d.%02d", r.intn(500), r.intn(100))
			if i%23 == 0 {
				amount = "NULL"
			}
			product := fmt.Sprint(1 + r.intn(35)) // some products do not exist
			placed := fmt.Sprintf("'2024-%02d-%02d'", 1+r.intn(12), 1+r.intn(28))
			vals = append(vals, fmt.Sprintf("(%d, %d, %s, %d, '%s', %s, %s)", cust, i, amount, 1+r.intn(9), statuses[r.intn(len(statuses))], product, placed))
		}
		out = append(out, "INSERT INTO orders (customer_id, id, amount, qty, status, product_id, placed) VALUES "+strings.Join(vals, ", "))
	}

	regions := []string{"us", "ca", "eu", "uk", "jp", "au", "br"}
	vals = nil
	for i := 1; i <= 60; i++ {
		sales := fmt.Sprint(int64(r.intn(1000000)) * int64(1+r.intn(1000)))
		if i%10 == 0 {
			sales = "NULL"
		}
		vals = append(vals, fmt.Sprintf("('%s', %d, 'store %d', %s, '20%02d-%02d-01')", regions[r.intn(len(regions))], i, i, sales, 10+r.intn(14), 1+r.intn(12)))
	}
	out = append(out, "INSERT INTO stores (region, id, name, sales, opened) VALUES "+strings.Join(vals, ", "))

	kinds := []string{"click", "view", "buy", "error"}
	for chunk := 0; chunk < 4; chunk++ {
		vals = nil
		for i := chunk*250 + 1; i <= chunk*250+250; i++ {
			day := r.intn(320) - 10
			value := fmt.Sprintf("%d.%03d", r.intn(1000), r.intn(1000))
			if i%19 == 0 {
				value = "NULL"
			}
			vals = append(vals, fmt.Sprintf("(%d, %d, '%s', %s, %s)", day, i, kinds[r.intn(len(kinds))], value, []string{"true", "false"}[r.intn(2)]))
		}
		out = append(out, "INSERT INTO events (day, id, kind, value, flag) VALUES "+strings.Join(vals, ", "))
	}

	vals = nil
	for i := 1; i <= 50; i++ {
		vals = append(vals, fmt.Sprintf("(%d, %d, 'note %d')", i, 1+r.intn(310), i))
	}
	out = append(out, "INSERT INTO notes (id, customer_id, body) VALUES "+strings.Join(vals, ", "))
	out = append(out, payments(&r)...)
	return append(out, profiles(&r)...)
}

// profiles belong to most customers (not all: some customers have none).
func profiles(r *rng) []string {
	themes := []string{"'dark'", "'light'", "NULL"}
	langs := []string{"'en'", "'fr'", "'de'", "'ja'", "NULL"}
	var vals []string
	for i := 1; i <= 300; i++ {
		if i%6 == 0 {
			continue
		}
		id := int64(i)
		if i%37 == 0 {
			id = -id
		}
		bio := "NULL"
		if r.intn(3) > 0 {
			bio = fmt.Sprintf("'bio of %d'", i)
		}
		score := fmt.Sprintf("%d.%02d", r.intn(100), r.intn(100))
		if r.intn(11) == 0 {
			score = "NULL"
		}
		seen := fmt.Sprintf("'2024-%02d-%02d'", 1+r.intn(12), 1+r.intn(28))
		vals = append(vals, fmt.Sprintf("(%d, 'nick%d', %s, %d, %s, %s, %s, %s)", id, i%40, bio, r.intn(50), score, seen, themes[r.intn(len(themes))], langs[r.intn(len(langs))]))
	}
	return []string{"INSERT INTO profiles (customer_id, nickname, bio, visits, score, last_seen, theme, lang) VALUES " + strings.Join(vals, ", ")}
}

// payments are distributed by order id: joining them to orders (placed by
// customer) is not co-located. Some pay orders that do not exist, some
// orders have none, amounts and methods are sometimes NULL.
func payments(r *rng) []string {
	methods := []string{"'card'", "'cash'", "'wire'", "NULL"}
	var out []string
	for chunk := 0; chunk < 4; chunk++ {
		var vals []string
		for i := chunk*400 + 1; i <= chunk*400+400; i++ {
			order := int64(i)
			if i%9 == 0 {
				continue // an order without payment
			}
			for seq := 1; seq <= 1+r.intn(2); seq++ {
				amount := fmt.Sprintf("%d.%02d", r.intn(300), r.intn(100))
				if r.intn(17) == 0 {
					amount = "NULL"
				}
				paid := fmt.Sprintf("'2024-%02d-%02d %02d:00:00+00'", 1+r.intn(12), 1+r.intn(28), r.intn(24))
				vals = append(vals, fmt.Sprintf("(%d, %d, %s, %s, %s)", order, seq, amount, methods[r.intn(len(methods))], paid))
			}
		}
		out = append(out, "INSERT INTO payments (order_id, seq, amount, method, paid_at) VALUES "+strings.Join(vals, ", "))
	}
	return out
}

func noteFor(i int) string {
	switch i % 5 {
	case 0:
		return "NULL"
	case 1:
		return "'line one\nline two'"
	case 2:
		return `'tab	and back\slash'`
	case 3:
		return "''"
	}
	return "'plain'"
}
