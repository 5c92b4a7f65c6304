package gendoc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The generated files, relative to this package; firmware/generate.go writes the same ones.
var (
	documents = []string{"../../../docs/chip.md", "../../../docs/regmap.md"}
	whole     = map[string]func() string{
		"../../include/lrchip_regmap.h": CHeader,
		"../../../udev/70-lrchip.rules": UdevRules,
	}
)

// TestGeneratedDocsAreCurrent fails when a generated block in docs/ or a generated file
// differs from what the code defines now: run `go generate ./firmware/...` and commit the
// result.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	for _, f := range documents {
		in, err := os.ReadFile(f)
		require.NoError(t, err)
		out, err := Apply(in, Blocks())
		require.NoError(t, err)
		require.Equal(t, string(in), string(out), "%s is stale: run go generate ./firmware/...", f)
	}
	for f, gen := range whole {
		in, err := os.ReadFile(f)
		require.NoError(t, err, "%s is missing: run go generate ./firmware/...", f)
		require.Equal(t, gen(), string(in), "%s is stale: run go generate ./firmware/...", f)
	}
}

// TestRegmapDocHasEveryBlock makes sure docs/regmap.md shows every regmap table.
func TestRegmapDocHasEveryBlock(t *testing.T) {
	in, err := os.ReadFile("../../../docs/regmap.md")
	require.NoError(t, err)
	for name := range regmapBlocks() {
		require.Contains(t, string(in), "<!-- BEGIN GENERATED: "+name+" -->", "docs/regmap.md lacks block %s", name)
	}
}

func TestApplyReplacesOnlyTheBlock(t *testing.T) {
	doc := "head\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\ntail\n"
	out, err := Apply([]byte(doc), map[string]string{"x": "new\n"})
	require.NoError(t, err)
	require.Equal(t, "head\n<!-- BEGIN GENERATED: x -->\nnew\n<!-- END GENERATED: x -->\ntail\n", string(out))
	_, err = Apply([]byte("<!-- BEGIN GENERATED: x -->\n"), map[string]string{"x": ""})
	require.Error(t, err)
}

// TestCHeaderCompiles compiles the header, whose static assertions check every offset, with
// the C compiler when there is one.
func TestCHeaderCompiles(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	h := filepath.Join(dir, "lrchip_regmap.h")
	require.NoError(t, os.WriteFile(h, []byte(CHeader()), 0o644))
	c := filepath.Join(dir, "t.c")
	require.NoError(t, os.WriteFile(c, []byte("#include \"lrchip_regmap.h\"\nint main(void) { return LRCHIP_REG_STATUS == 0x40 ? 0 : 1; }\n"), 0o644))
	out, err := exec.Command(cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", c).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

func TestUdevRulesUseTheIDs(t *testing.T) {
	r := UdevRules()
	for _, want := range []string{`ATTR{idVendor}=="1209"`, `ATTR{idProduct}=="0001"`, `ATTRS{vendor}=="0x10ee"`, `ATTRS{device}=="0x4c52"`, `GROUP="lrchip"`, `DRIVER=="vfio-pci"`, `chgrp lrchip /dev/vfio/$$g`,
		`ATTR{idVendor}=="0403", ATTR{idProduct}=="6010", ATTR{manufacturer}=="lrchip"`} {
		require.Contains(t, r, want)
	}
	require.Equal(t, uint16(0x1209), regmap.USBVendorID)
	require.False(t, strings.Contains(r, "%!"), "formatting error in the rules:\n%s", r)
}
