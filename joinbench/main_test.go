// Package joinbench measures the join strategies on one data set and checks
// the rows they move between nodes: a join with a reference table moves
// none, a broadcast moves only the filtered rows of the small side.
package joinbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
)

var stack *devstack.Stack

const shardMap = `version: 1
clusters: {}
default_cluster: s0
distributions:
  by_customer: {type: hash, key_type: bigint, shards: [s0, s1, s2]}
  by_order: {type: hash, key_type: bigint, shards: [s2, s0, s1]}
tables:
  customers: {distribution: by_customer, key: id}
  orders: {distribution: by_customer, key: customer_id}
  payments: {distribution: by_order, key: order_id}
  countries: {reference: true}
`

func TestMain(m *testing.M) {
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 3, Replicas: localdeploy.None, ShardMap: []byte(shardMap)}, &stack))
}

var (
	loadOnce sync.Once
	loadErr  error
	// customers is the number of customers; orders and payments hold ten
	// times as many rows.
	customers int
)

// load fills the tables once: SQLROUTER_JOIN_BENCH_CUSTOMERS customers
// (default 2,000), ten orders each, a payment per order.
func load(tb testing.TB) {
	tb.Helper()
	loadOnce.Do(func() {
		customers = 2000
		if v, err := strconv.Atoi(os.Getenv("SQLROUTER_JOIN_BENCH_CUSTOMERS")); err == nil && v > 0 {
			customers = v
		}
		loadErr = fill(context.Background())
	})
	if loadErr != nil {
		tb.Fatal(loadErr)
	}
}

func fill(ctx context.Context) error {
	c, err := pgconn.Connect(ctx, stack.RouterDSN())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, sql := range []string{
		"CREATE TABLE countries (code text PRIMARY KEY, name text)",
		"CREATE TABLE customers (id bigint PRIMARY KEY, name text, country text, tier int)",
		"CREATE TABLE orders (customer_id bigint, id bigint, amount numeric(12,2), status text, PRIMARY KEY (customer_id, id))",
		"CREATE TABLE payments (order_id bigint, seq int, amount numeric(12,2), method text, PRIMARY KEY (order_id, seq))",
		"INSERT INTO countries (code, name) VALUES ('us', 'United States'), ('fr', 'France'), ('jp', 'Japan'), ('br', 'Brazil'), ('in', 'India')",
	} {
		if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	codes := []string{"us", "fr", "jp", "br", "in"}
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	methods := []string{"card", "cash", "wire"}
	var cust, ord, pay bytes.Buffer
	for i := 1; i <= customers; i++ {
		fmt.Fprintf(&cust, "%d\tcustomer %d\t%s\t%d\n", i, i, codes[i%len(codes)], i%4)
		for j := 0; j < 10; j++ {
			id := i*10 + j
			fmt.Fprintf(&ord, "%d\t%d\t%d.%02d\t%s\n", i, id, (id*7919)%500, id%100, statuses[id%len(statuses)])
			fmt.Fprintf(&pay, "%d\t1\t%d.%02d\t%s\n", id, (id*104729)%300, id%100, methods[(id/3)%len(methods)])
		}
	}
	for _, part := range []struct {
		sql  string
		data *bytes.Buffer
	}{{"COPY customers FROM STDIN", &cust}, {"COPY orders FROM STDIN", &ord}, {"COPY payments FROM STDIN", &pay}} {
		if _, err := c.CopyFrom(ctx, part.data, part.sql); err != nil {
			return fmt.Errorf("%s: %w", part.sql, err)
		}
	}
	_, err = c.Exec(ctx, "ANALYZE").ReadAll()
	return err
}
