package e2e

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A pipeline far bigger than the socket buffers does not deadlock the
// router: it passes the messages on and reads the answers as it goes.
func TestLargePipeline(t *testing.T) {
	c := connect(t)
	owner := "s1"
	base := keyOn(t, owner)
	big := strings.Repeat("x", 2000)
	batch := &pgx.Batch{}
	const n = 20000
	for i := range n {
		batch.Queue("INSERT INTO orders (customer_id, id, amount, status) VALUES ($1, $2, 1, $3) RETURNING status", base, int64(i), big)
	}
	br := c.SendBatch(ctxT(t), batch)
	for i := range n {
		var s string
		if err := br.QueryRow().Scan(&s); err != nil || len(s) != len(big) {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	var count int
	if err := primary(t, owner).QueryRow(ctxT(t), "SELECT count(*) FROM orders WHERE customer_id = $1", base).Scan(&count); err != nil || count != n {
		t.Errorf("%d rows on %s, want %d (%v)", count, owner, n, err)
	}
}
