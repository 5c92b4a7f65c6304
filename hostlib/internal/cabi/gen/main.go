// Command gen writes lrchip.h, the C ABI's header (cabi.Header), to the path given.
package main

import (
	"fmt"
	"os"

	"github.com/lrchip/lrchip/hostlib/internal/cabi"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen lrchip.h")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], cabi.Header(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
