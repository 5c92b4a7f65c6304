package layers

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/lrchip/lrchip/"

// Layers, bottom up (docs/architecture.md).
const (
	foundation = iota
	seam
	implementation
	user
	frontEnd
)

var layerNames = []string{"foundation", "device seam", "implementation", "user of a device", "front end"}

// rules places every package: the longest matching prefix wins. A package that matches none
// fails the test, so that a new package is placed on purpose.
var rules = []struct {
	prefix string
	layer  int
}{
	{"chip", foundation}, {"firmware", foundation}, {"runtime/ring", foundation}, {"runtime/gpu", foundation},
	{"network", foundation}, {"flash", foundation}, {"devices", foundation}, {"udev", foundation}, {"internal", foundation},
	{"device", seam},
	{"driver", implementation}, {"emu", implementation},
	{"network/run", user}, {"network/plot", user}, {"runtime/sched", user}, {"runtime/pipeline", user},
	{"internal/conformance", user}, {"driver/selftest", user},
	{"cmd", frontEnd}, {"hostlib", frontEnd}, {"examples", frontEnd},
}

func layerOf(pkg string) (int, bool) {
	best, layer := -1, 0
	for _, r := range rules {
		if (pkg == r.prefix || strings.HasPrefix(pkg, r.prefix+"/")) && len(r.prefix) > best {
			best, layer = len(r.prefix), r.layer
		}
	}
	return layer, best >= 0
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

// TestImportsPointDown fails when a package imports one of a higher layer, when the driver
// imports the emulator (or the emulator the driver, but for the emu: registration), or when a
// user of a device imports a transport instead of the device interface.
func TestImportsPointDown(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...")
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", out)
	var problems []string
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		lp, ok := layerOf(pkg)
		if !ok {
			problems = append(problems, pkg+": in no layer (add it to the rules here and to docs/architecture.md)")
			continue
		}
		seen++
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			ld, ok := layerOf(dep)
			switch {
			case !ok:
				continue // reported as a package of its own
			case ld > lp:
				problems = append(problems, pkg+" ("+layerNames[lp]+") imports "+dep+" ("+layerNames[ld]+")")
			case under(pkg, "driver") && under(dep, "emu"):
				problems = append(problems, pkg+" imports the emulator "+dep+": the driver reaches emu: through its transport registry")
			case under(pkg, "emu") && pkg != "emu/register" && under(dep, "driver"):
				problems = append(problems, pkg+" imports the driver "+dep+": only emu/register may")
			case lp == user && (under(dep, "emu") || under(dep, "driver") && pkg != "driver/selftest"):
				problems = append(problems, pkg+" (a user of a device) imports the transport "+dep+": use package device")
			case lp != frontEnd && !under(pkg, "emu") && under(dep, "emu"):
				problems = append(problems, pkg+" imports the emulator "+dep)
			}
		}
	}
	require.Empty(t, problems)
	require.Greater(t, seen, 30, "go list found the module's packages")
}

func TestRules(t *testing.T) {
	for pkg, want := range map[string]int{
		"network": foundation, "network/run": user, "internal/hangup": foundation, "internal/conformance": user,
		"driver": implementation, "driver/selftest": user, "emu/register": implementation, "cmd/lrctl": frontEnd,
	} {
		got, ok := layerOf(pkg)
		require.True(t, ok, pkg)
		require.Equal(t, want, got, pkg)
	}
	_, ok := layerOf("nowhere")
	require.False(t, ok)
}
