package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultDecisionPrefix is where EtcdLog keeps decisions unless told
// otherwise.
const DefaultDecisionPrefix = "/sqlrouter/txn/"

// EtcdLog is the DecisionStore of a deployment: one etcd key per decision,
// <prefix><transaction id>, holding
//
//	{"decision":"commit","clusters":["s0","s1"],"router":"r1","time":"2026-01-02T03:04:05.678Z"}
//
// Writes are etcd transactions, acknowledged once a quorum of etcd members
// has them; reads are linearizable.
type EtcdLog struct {
	cli      *clientv3.Client
	prefix   string
	routerID string
	forget   *forgetter
	record   *recorder
}

// NewEtcdLog makes a log under prefix (DefaultDecisionPrefix when ""),
// whose records name routerID as their author.
func NewEtcdLog(cli *clientv3.Client, routerID, prefix string) *EtcdLog {
	if prefix == "" {
		prefix = DefaultDecisionPrefix
	}
	l := &EtcdLog{cli: cli, prefix: prefix, routerID: routerID, forget: newForgetter(cli)}
	l.record = &recorder{cli: cli, single: l.recordOne}
	return l
}

// Prefix returns the key prefix of the decisions.
func (l *EtcdLog) Prefix() string { return l.prefix }

// Record writes d as txid's decision unless txid already has one (see
// DecisionLog.Record). Decisions recorded concurrently share etcd
// transactions (group commit).
func (l *EtcdLog) Record(ctx context.Context, txid string, d Decision, clusters []string) error {
	val, err := json.Marshal(LoggedDecision{Decision: d, Clusters: clusters, Router: l.routerID, Time: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("txn: record decision of %s: %w", txid, err)
	}
	err = l.record.record(ctx, l.prefix+txid, string(val), d)
	if err == nil || errors.Is(err, ErrDecisionConflict) {
		return err
	}
	return fmt.Errorf("txn: record decision of %s: %w", txid, err)
}

// recordOne writes val under key unless key holds a decision already, in
// one etcd transaction; an existing decision other than d is a conflict.
func (l *EtcdLog) recordOne(ctx context.Context, key, val string, d Decision) error {
	resp, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return err
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return fmt.Errorf("key exists but could not be read")
	}
	existing, err := l.decode(string(kvs[0].Key), kvs[0].Value)
	if err != nil {
		return err
	}
	if existing.Decision != d {
		return fmt.Errorf("%w: %s was decided %s by router %s", ErrDecisionConflict, strings.TrimPrefix(key, l.prefix), existing.Decision, existing.Router)
	}
	return nil
}

// Forget deletes txid's decision in the background, batched with other
// forgotten decisions; Flush waits for the deletes. It never fails: a
// decision whose delete fails or is lost to a crash is forgotten by
// recovery.
func (l *EtcdLog) Forget(_ context.Context, txid string) error {
	l.forget.add(l.prefix + txid)
	return nil
}

// Flush waits until the decisions forgotten so far are deleted from etcd,
// or ctx ends; it returns the error of the last batch of deletes.
func (l *EtcdLog) Flush(ctx context.Context) error {
	if err := l.forget.flush(ctx); err != nil {
		return fmt.Errorf("txn: forget decisions: %w", err)
	}
	return nil
}

// Lookup returns txid's decision.
func (l *EtcdLog) Lookup(ctx context.Context, txid string) (LoggedDecision, bool, error) {
	resp, err := l.cli.Get(ctx, l.prefix+txid)
	if err != nil {
		return LoggedDecision{}, false, fmt.Errorf("txn: look up decision of %s: %w", txid, err)
	}
	if len(resp.Kvs) == 0 {
		return LoggedDecision{}, false, nil
	}
	d, err := l.decode(string(resp.Kvs[0].Key), resp.Kvs[0].Value)
	if err != nil {
		return LoggedDecision{}, false, fmt.Errorf("txn: look up decision of %s: %w", txid, err)
	}
	return d, true, nil
}

// List returns the decisions recorded at least olderThan ago (all of them
// when olderThan is 0), in key order. Keys under the prefix that do not
// hold a decision are skipped.
func (l *EtcdLog) List(ctx context.Context, olderThan time.Duration) ([]LoggedDecision, error) {
	resp, err := l.cli.Get(ctx, l.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("txn: list decisions: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	var out []LoggedDecision
	for _, kv := range resp.Kvs {
		d, err := l.decode(string(kv.Key), kv.Value)
		if err != nil || d.Time.After(cutoff) {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// decode reads the decision stored under key.
func (l *EtcdLog) decode(key string, val []byte) (LoggedDecision, error) {
	var d LoggedDecision
	if err := json.Unmarshal(val, &d); err != nil {
		return LoggedDecision{}, fmt.Errorf("decision under %s: %w", key, err)
	}
	if d.Decision != Commit && d.Decision != Abort {
		return LoggedDecision{}, fmt.Errorf("decision under %s: no decision field", key)
	}
	d.Txn = strings.TrimPrefix(key, l.prefix)
	return d, nil
}
