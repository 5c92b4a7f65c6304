package kernels

import (
	"testing"

	"github.com/lrchip/lrchip/internal/avotest"
)

// TestGeneratedKernelsAreCurrent regenerates the assembly with avo and compares it with the
// committed files: run `go generate ./emu/internal/kernels` and commit when it fails.
func TestGeneratedKernelsAreCurrent(t *testing.T) {
	avotest.CheckCurrent(t, "kernels", "kernels_amd64.s", "kernels_amd64.go", "./emu/internal/kernels")
}
