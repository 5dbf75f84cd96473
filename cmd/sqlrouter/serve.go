package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sqlrouter/sqlrouter/router"
)

// serveFlags maps the serve command's flags to configuration keys.
var serveFlags = map[string]string{
	"listen":     "listen",
	"etcd":       "etcd.endpoints",
	"key":        "etcd.key",
	"log-level":  "log.level",
	"log-format": "log.format",
}

func serveCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the router",
		Long: `Run the router with the configuration from --config (YAML), SQLROUTER_*
environment variables (SQLROUTER_ETCD_ENDPOINTS=host:2379, ...) and flags,
each overriding the one before. See docs/sqlrouter.example.yaml.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file, cmd.Flags(), serveFlags)
			if err != nil {
				return err
			}
			logger, err := newLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, cfg, logger, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "config", "", "configuration file (YAML)")
	f.String("listen", "", "address for clients (default 127.0.0.1:6432)")
	f.StringSlice("etcd", nil, "etcd endpoints, comma-separated")
	f.String("key", "", "etcd key of the shard map (default /sqlrouter/shardmap)")
	f.String("log-level", "", "debug, info, warn or error")
	f.String("log-format", "", "text or json")
	return cmd
}

// runServe runs a router until ctx is done. started, when set, gets the
// router once it listens.
func runServe(ctx context.Context, cfg router.Config, logger *slog.Logger, started func(*router.Router)) error {
	r, err := router.Start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if started != nil {
		started(r)
	}
	<-ctx.Done()
	logger.Info("shutting down: draining client sessions", "sessions", r.Sessions())
	sctx, cancel := context.WithTimeout(context.Background(), r.ShutdownTimeout())
	defer cancel()
	return r.Shutdown(sctx)
}
