package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
)

func devCommand() *cobra.Command {
	var (
		shards, replicas  int
		dir, listen, map_ string
		logLevel          string
		useTLS, trust     bool
		password          string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole local deployment: etcd, shards with replicas, a coordinator and the router",
		Long: `dev starts an embedded etcd, --shards PostgreSQL clusters (a primary and
--replicas streaming replicas each), a coordinator PostgreSQL, stores a shard
map in etcd (the built-in example, or --shardmap FILE pointed at these
clusters, named s0, s1, ...) and runs the router on --listen. When everything
is ready it writes DIR/cluster.json and prints how to connect. Ctrl-C stops
everything.

The router is set up as in production: it serves TLS with a self-signed
certificate made in DIR/tls (clients may verify it with
sslrootcert=DIR/tls/server.crt and sslmode=verify-full) and requires
SCRAM-SHA-256 for user app, with the password --password or a random one,
printed with the connection string. --tls=false and --trust turn them off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(os.Stderr, logLevel, "text")
			if err != nil {
				return err
			}
			var userMap []byte
			if map_ != "" {
				if userMap, err = os.ReadFile(map_); err != nil {
					return err
				}
			}
			temp := dir == ""
			if temp {
				if dir, err = os.MkdirTemp("", "sqlrouter-dev-*"); err != nil {
					return err
				}
			}
			if replicas == 0 {
				replicas = localdeploy.None
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			began := time.Now()
			stack, err := devstack.Start(ctx, devstack.Options{
				Dir: dir, Shards: shards, Replicas: replicas, Listen: listen, ShardMap: userMap, Logger: logger,
				PlainText: !useTLS, Trust: trust, Password: password,
			})
			if err != nil {
				if temp {
					os.RemoveAll(dir)
				}
				return err
			}
			path, err := stack.WriteInfo(dir)
			if err == nil {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "sqlrouter dev is ready in %.1fs: %d clusters, data in %s\n", time.Since(began).Seconds(), len(stack.Deployment.Clusters), dir)
				fmt.Fprintf(out, "  details: %s\n  connect: psql \"%s\"\n  metrics: %s\n", path, stack.RouterDSN(), stack.Router.MetricsURL())
				if stack.CertFile != "" {
					fmt.Fprintf(out, "  TLS certificate: %s (sslrootcert, for sslmode=verify-full)\n", stack.CertFile)
				}
				fmt.Fprintf(out, "  press Ctrl-C to stop\n")
				<-ctx.Done()
				logger.Info("stopping")
			}
			sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			serr := stack.Stop(sctx)
			if temp {
				os.RemoveAll(dir)
			} else {
				os.Remove(path)
			}
			if err != nil {
				return err
			}
			return serr
		},
	}
	f := cmd.Flags()
	f.IntVar(&shards, "shards", 2, "number of shard clusters")
	f.IntVar(&replicas, "replicas", 1, "streaming replicas per cluster")
	f.StringVar(&dir, "dir", "", "data directory (default: a new temporary directory, removed at exit)")
	f.StringVar(&listen, "listen", "127.0.0.1:6432", "address of the router")
	f.StringVar(&map_, "shardmap", "", "shard map file to use instead of the built-in example")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&useTLS, "tls", true, "serve TLS with a self-signed certificate made in DIR/tls")
	f.BoolVar(&trust, "trust", false, "let clients in without a password instead of SCRAM-SHA-256")
	f.StringVar(&password, "password", "", "password of user app (default: a random one, printed)")
	return cmd
}
