package localdeploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Etcd is a single-member etcd server running inside this process, with
// its client URL on a free 127.0.0.1 port. Its data lives in dir/data and
// its own log (warnings and errors only) in dir/etcd.log.
type Etcd struct {
	server    *embed.Etcd
	endpoints []string
	dir       string
	stopOnce  sync.Once
}

// StartEtcd starts an embedded etcd keeping its files under dir and
// returns once it serves clients.
func StartEtcd(ctx context.Context, dir string) (*Etcd, error) {
	return startEtcd(ctx, dir, nil)
}

func startEtcd(ctx context.Context, dir string, logger *slog.Logger) (*Etcd, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localdeploy: etcd: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localdeploy: etcd: %w", err)
	}
	began := time.Now()
	for attempt := 1; ; attempt++ {
		e, err := tryStartEtcd(ctx, dir)
		if err == nil {
			logger.Info("started etcd", "endpoint", e.endpoints[0], "dir", dir, "elapsed", time.Since(began).Round(time.Millisecond))
			return e, nil
		}
		if !isAddrInUse(err) || attempt == maxPortAttempts {
			return nil, err
		}
		logger.Debug("etcd port taken, retrying on another", "err", err)
	}
}

// tryStartEtcd starts etcd on fresh ports and waits until it is ready.
func tryStartEtcd(ctx context.Context, dir string) (*Etcd, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}

	cfg := embed.NewConfig()
	cfg.Name = "localdeploy"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	cfg.LogLevel = "warn"
	cfg.UnsafeNoFsync = true // dev and test data only
	cfg.EnableGRPCGateway = false
	// A single member elects itself after one election timeout: keep it short.
	cfg.TickMs = 20
	cfg.ElectionMs = 200

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("localdeploy: start etcd: %w", err)
	}
	select {
	case <-server.Server.ReadyNotify():
	case err := <-server.Err():
		server.Close()
		return nil, fmt.Errorf("localdeploy: etcd: %w", err)
	case <-ctx.Done():
		server.Close()
		return nil, fmt.Errorf("localdeploy: etcd not ready: %w\netcd.log tail:\n%s", ctx.Err(), fileTail(filepath.Join(dir, "etcd.log"), 4096, 25))
	}
	return &Etcd{server: server, endpoints: []string{clientURL.String()}, dir: dir}, nil
}

// isAddrInUse reports whether err comes from binding a port in use.
func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// Endpoints returns the client URLs, e.g. ["http://127.0.0.1:41234"].
func (e *Etcd) Endpoints() []string {
	return append([]string(nil), e.endpoints...)
}

// Dir returns the directory given to StartEtcd.
func (e *Etcd) Dir() string { return e.dir }

// Stop shuts etcd down and waits for it. It is also Close: safe to call
// more than once.
func (e *Etcd) Stop() {
	e.stopOnce.Do(e.server.Close)
}

// Close is Stop.
func (e *Etcd) Close() { e.Stop() }
