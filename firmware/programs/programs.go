// Package programs holds the standard neuron programs, written in the neuron-microcode
// assembly and shipped with the project: Loihi CUBA LIF (lif), LIF with periodic reset
// (lif_reset), ternary LIF (ternary_lif), the sigma-delta neuron (sigma_delta), the
// adaptive-threshold LIF (alif) and resonate-and-fire (rf).
package programs

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/isa"
)

//go:embed *.lra
var sources embed.FS

// Names lists the standard programs.
func Names() []string {
	ents, _ := fs.ReadDir(sources, ".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".lra"))
	}
	sort.Strings(out)
	return out
}

// Source returns the assembly text of a standard program.
func Source(name string) ([]byte, error) {
	b, err := sources.ReadFile(name + ".lra")
	if err != nil {
		return nil, fmt.Errorf("programs: no standard program %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Get assembles a standard program. Each call returns a new Program.
func Get(name string) (*isa.Program, error) {
	src, err := Source(name)
	if err != nil {
		return nil, err
	}
	return asm.Assemble(name+".lra", src)
}

// MustGet is Get for programs known to exist; it panics on error (the standard programs are
// assembled by this package's tests, so an error here is a build defect).
func MustGet(name string) *isa.Program {
	p, err := Get(name)
	if err != nil {
		panic(err)
	}
	return p
}
