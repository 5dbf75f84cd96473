package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

func shardmapCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shardmap",
		Short: "Validate, store and read shard maps",
	}
	var endpoints []string
	var key string
	etcdFlags := func(c *cobra.Command) {
		c.Flags().StringSliceVar(&endpoints, "etcd", envList("SQLROUTER_ETCD_ENDPOINTS"), "etcd endpoints, comma-separated (env SQLROUTER_ETCD_ENDPOINTS)")
		c.Flags().StringVar(&key, "key", envOr("SQLROUTER_ETCD_KEY", shardmap.DefaultKey), "etcd key of the shard map (env SQLROUTER_ETCD_KEY)")
	}
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a shard map document (YAML or JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, _, err := shardmap.Load(args[0])
			if err != nil {
				return validationFailed(args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d clusters, %d distributions, %d tables)\n", args[0], len(m.Clusters), len(m.Distributions), len(m.Tables))
			return nil
		},
	}
	apply := &cobra.Command{
		Use:   "apply FILE",
		Short: "Validate a shard map and store it in etcd (routers switch to it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if _, err := shardmap.Parse(doc); err != nil {
				return validationFailed(args[0], err)
			}
			cli, err := etcdClient(endpoints)
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			rev, err := shardmap.Apply(ctx, cli, key, doc)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored %s under %s (revision %d)\n", args[0], key, rev)
			return nil
		},
	}
	get := &cobra.Command{
		Use:   "get",
		Short: "Print the shard map stored in etcd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli, err := etcdClient(endpoints)
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			doc, rev, err := shardmap.Get(ctx, cli, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "# %s at revision %d\n", key, rev)
			_, err = cmd.OutOrStdout().Write(doc)
			return err
		},
	}
	etcdFlags(apply)
	etcdFlags(get)
	cmd.AddCommand(validate, apply, get)
	return cmd
}

// validationFailed formats a validation error for the terminal.
func validationFailed(file string, err error) error {
	var ve *shardmap.ValidationError
	if errors.As(err, &ve) {
		return fmt.Errorf("%s is not a valid shard map:\n%s", file, ve.Error())
	}
	return fmt.Errorf("%s: %w", file, err)
}

func etcdClient(endpoints []string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no etcd endpoints: pass --etcd host:port (or set SQLROUTER_ETCD_ENDPOINTS)")
	}
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

func envOr(name, dflt string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return dflt
}

func envList(name string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}
