// Command cmd writes planner/walk_gen.go (see package nodegen).
package main

import (
	"flag"
	"log"
	"os"

	"github.com/sqlrouter/sqlrouter/planner/internal/nodegen"
)

func main() {
	out := flag.String("o", "walk_gen.go", "file to write")
	flag.Parse()
	src, err := nodegen.Generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
