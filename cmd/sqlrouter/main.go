// Command sqlrouter is a distributed SQL router for sharded PostgreSQL:
// clients connect to it as to one PostgreSQL server.
//
//	sqlrouter dev                 a whole local deployment in one command
//	sqlrouter serve --config F    run the router
//	sqlrouter shardmap validate|apply|get
//	sqlrouter reference sync      copy reference tables to a new cluster
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sqlrouter:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "sqlrouter",
		Short:         "A distributed SQL router for sharded PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), devCommand(), shardmapCommand(), referenceCommand(), versionCommand())
	return root
}
