package crashtest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Twelve clients move money between accounts of different clusters
// through a router that is SIGKILLed at random instants and started again
// with the same router_id, five times. The router's recovery (at start,
// and every 200 ms) finishes what each crash left prepared: it commits
// those whose decision reached etcd and, after the 2 s no-decision
// timeout, rolls back those whose decision did not. No COMMIT is refused:
// the dead router's clients lose their connection instead.
func TestBankSurvivesRouterKills(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "crash-r1"})
	b := createBank(t, r, 200)
	b.chaos(12, []*routerProc{r}, 5, func(kill int, _ *rand.Rand) {
		r.Kill()
		t.Logf("kill %d: %d prepared transactions", kill+1, len(preparedXacts(t.Context(), t)))
		r.Start()
	})
	if n := b.verify()[refused]; n > 0 {
		t.Errorf("%d COMMITs refused", n)
	}
}

// Twelve clients move money between accounts of different clusters
// through one router while a shard primary (s0 or s1, at random) is
// SIGKILLed with all its backends at random instants and restarted, four
// times. A kill between PREPARE and COMMIT PREPARED leaves a prepared
// transaction that survives the restart: the router's recovery commits it
// when its decision is in etcd and rolls it back otherwise.
func TestBankSurvivesPrimaryKills(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "crash-p1"})
	b := createBank(t, r, 200)
	b.chaos(12, []*routerProc{r}, 4, func(kill int, rng *rand.Rand) {
		victim := dep.Clusters[rng.IntN(len(dep.Clusters))].Primary
		if err := victim.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := victim.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d of %s: %d prepared transactions after its restart", kill+1, victim.Name, len(preparedXacts(ctx, t)))
	})
	b.verify()
}

// Two routers serve the clients at once, each with a no-decision timeout
// of 1 ms and a recovery pass every 50 ms, so that a router resolving the
// other's transactions in flight would abort them (and their COMMIT would
// be refused). Router A is killed and restarted twice; then B is killed
// for good, and A finishes B's prepared transactions once B's lease (2 s)
// has run out.
func TestBankWithTwoRouters(t *testing.T) {
	a, b := startTwoRouters(t, "bank-a", "bank-b")
	bank := createBank(t, a, 200)
	var killed time.Time
	var leftByB []string
	bank.chaos(12, []*routerProc{a, b}, 3, func(round int, _ *rand.Rand) {
		if round < 2 {
			a.Kill()
			a.Start()
			return
		}
		b.Kill()
		killed = time.Now()
		for _, x := range preparedXacts(t.Context(), t) {
			if strings.Contains(x, ":sqlr_bank-b.") {
				leftByB = append(leftByB, x)
			}
		}
	})
	if n := bank.verify()[refused]; n > 0 {
		t.Errorf("%d COMMITs refused: a router resolved a transaction of a live router", n)
	}
	t.Logf("B left %d prepared transactions; A resolved them within %s of B's death", len(leftByB), time.Since(killed).Round(time.Millisecond))
}

// startTwoRouters starts two routers sharing the clusters, each with a
// no-decision timeout of 1 ms and a recovery pass every 50 ms: a router
// that touched the other's transactions in flight would abort them.
func startTwoRouters(t *testing.T, idA, idB string) (a, b *routerProc) {
	t.Helper()
	opts := routerOptions{NoDecisionTimeout: time.Millisecond, RecoveryInterval: 50 * time.Millisecond}
	opts.ID = idA
	a = startRouter(t, opts)
	opts.ID = idB
	return a, startRouter(t, opts)
}
