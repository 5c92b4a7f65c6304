// Command gendoc rewrites the generated blocks of the given documentation files in place.
// Run it through `go generate ./firmware/...`.
package main

import (
	"fmt"
	"os"

	"github.com/lrchip/lrchip/firmware/internal/gendoc"
)

func main() {
	for _, f := range os.Args[1:] {
		in, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gendoc:", err)
			os.Exit(1)
		}
		out, err := gendoc.Apply(in, gendoc.Blocks())
		if err != nil {
			fmt.Fprintf(os.Stderr, "gendoc: %s: %v\n", f, err)
			os.Exit(1)
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendoc:", err)
			os.Exit(1)
		}
	}
}
