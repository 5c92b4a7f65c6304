// Command gendoc rewrites the generated blocks of the given documentation files in place and
// writes the files that are generated whole: the C header of the board protocol (-header) and
// the udev rules (-udev). Run it through `go generate ./firmware/...`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lrchip/lrchip/firmware/internal/gendoc"
)

func main() {
	header := flag.String("header", "", "write the C header of the board protocol to this file")
	udev := flag.String("udev", "", "write the udev rules to this file")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
	for _, w := range []struct {
		path string
		gen  func() string
	}{{*header, gendoc.CHeader}, {*udev, gendoc.UdevRules}} {
		if w.path == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(w.path, []byte(w.gen()), 0o644); err != nil {
			fail(err)
		}
	}
	for _, f := range flag.Args() {
		in, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		out, err := gendoc.Apply(in, gendoc.Blocks())
		if err != nil {
			fail(fmt.Errorf("%s: %w", f, err))
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			fail(err)
		}
	}
}
