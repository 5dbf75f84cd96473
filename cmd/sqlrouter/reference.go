package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/sqlrouter/sqlrouter/refsync"
	"github.com/sqlrouter/sqlrouter/router"
)

func referenceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reference",
		Short: "Manage the copies of reference tables",
	}
	var file, cluster string
	var settle time.Duration
	sync := &cobra.Command{
		Use:   "sync --cluster NAME",
		Short: "Copy every reference table to a syncing cluster, then mark it active",
		Long: `Copy every reference table of the shard map from the default cluster to a
cluster in state syncing (each table locked on both sides while it is
copied, so that no write is lost), then set the cluster's state to active
in the shard map stored in etcd: routers then read reference tables from
it too. Create the schema on the new cluster and add it to the map with
state: syncing first (see docs/operations.md). The configuration (etcd
endpoints and key, backend credentials) is read as sqlrouter serve reads it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cluster == "" {
				return fmt.Errorf("--cluster is required")
			}
			cfg, err := loadConfig(file, cmd.Flags(), map[string]string{"etcd": "etcd.endpoints", "key": "etcd.key"})
			if err != nil {
				return err
			}
			logger, err := newLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cli, err := etcdClient(cfg.Etcd.Endpoints)
			if err != nil {
				return err
			}
			defer cli.Close()
			if settle > 0 {
				// Routers cut off from etcd may still run an older map,
				// which does not write to the new cluster.
				fmt.Fprintf(cmd.ErrOrStderr(), "waiting %s for every router to run the map with %s syncing\n", settle, cluster)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(settle):
				}
			}
			rep, err := refsync.Sync(ctx, refsync.Options{
				Etcd: cli, Key: cfg.Etcd.Key, Cluster: cluster, Logger: logger,
				Connect: func(ctx context.Context, name, url string) (*pgconn.PgConn, error) {
					return router.ConnectBackend(ctx, cfg.Backend, name, url)
				},
			})
			if err != nil {
				return err
			}
			var names []string
			for t := range rep.Rows {
				names = append(names, t)
			}
			slices.Sort(names)
			out := cmd.OutOrStdout()
			for _, t := range names {
				fmt.Fprintf(out, "%s: %d rows copied from %s\n", t, rep.Rows[t], rep.Source)
			}
			fmt.Fprintf(out, "cluster %s is active (shard map revision %d)\n", cluster, rep.Revision)
			return nil
		},
	}
	f := sync.Flags()
	f.StringVar(&cluster, "cluster", "", "the syncing cluster to fill")
	f.StringVar(&file, "config", "", "configuration file (YAML), as for sqlrouter serve")
	f.StringSlice("etcd", nil, "etcd endpoints, comma-separated")
	f.String("key", "", "etcd key of the shard map (default /sqlrouter/shardmap)")
	f.DurationVar(&settle, "settle", 10*time.Second, "wait this long before copying, for routers to switch to the map with the cluster syncing")
	cmd.AddCommand(sync)
	return cmd
}
