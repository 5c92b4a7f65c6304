package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/runtime/ring"
)

const committed = "../../include/lrchip_ring.h"

// TestHeaderIsCurrent fails when include/lrchip_ring.h no longer matches layout.go: run
// `go generate ./runtime/ring` and commit the header.
func TestHeaderIsCurrent(t *testing.T) {
	want, err := header()
	require.NoError(t, err)
	got, err := os.ReadFile(committed)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "runtime/ring/include/lrchip_ring.h is stale: run go generate ./runtime/ring")
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"ProducerPos": "producer_pos", "PIDNS": "pidns", "PID": "pid", "HeaderSize": "header_size", "Magic": "magic"} {
		require.Equal(t, want, snake(in))
	}
}

// TestHeaderCompiles compiles a C file that includes the committed header and asserts, with
// the numbers Go computes, every offset and size, as C11 and as C++11 where a compiler is
// found; it skips without one.
func TestHeaderCompiles(t *testing.T) {
	var b strings.Builder
	b.WriteString("#include <stddef.h>\n#include <stdint.h>\n#include \"lrchip_ring.h\"\n")
	b.WriteString("#ifdef __cplusplus\n#define SA static_assert\n#else\n#define SA _Static_assert\n#endif\n")
	for _, o := range offsets() {
		fmt.Fprintf(&b, "SA(offsetof(%s, %s) == %d, %q);\n", o.cType, o.cField, o.value, o.goName)
		fmt.Fprintf(&b, "SA(%s == %d, %q);\n", o.macro, o.value, o.macro)
	}
	for _, s := range sizes() {
		fmt.Fprintf(&b, "SA(sizeof(%s) == %d, %q);\n", s.cType, s.value, s.cType)
	}
	for macro, v := range map[string]uint64{
		"LRCHIP_RING_MAGIC": ring.Magic, "LRCHIP_RING_VERSION": uint64(ring.Version), "LRCHIP_RING_HEADER_SIZE": ring.HeaderSize,
		"LRCHIP_RING_CACHE_LINE": ring.CacheLine, "LRCHIP_RING_MIN_CAPACITY": ring.MinCapacity, "LRCHIP_RING_MAX_CAPACITY": ring.MaxCapacity,
		"LRCHIP_RING_DEFAULT_CAPACITY": ring.DefaultCapacity, "LRCHIP_RING_FLAG_MULTI_PRODUCER": uint64(ring.FlagMultiProducer),
		"LRCHIP_RING_SIDE_CLOSED": uint64(ring.SideClosed), "LRCHIP_RING_RECORD_HEADER_SIZE": ring.RecordHeaderSize,
		"LRCHIP_RING_RECORD_ALIGN": ring.RecordAlign, "LRCHIP_RING_TYPE_PAD": uint64(ring.TypePad),
		"LRCHIP_RING_TYPE_RESERVED_MIN": uint64(ring.TypeReservedMin), "LRCHIP_RING_RECORD_COMMITTED": uint64(ring.RecordCommitted),
	} {
		fmt.Fprintf(&b, "SA(%s == UINT64_C(%d), %q);\n", macro, v, macro)
	}
	// The record word: length 0x11223344, type 0x5566, flags 0x7788.
	b.WriteString("SA(LRCHIP_RING_RECORD_WORD(0x11223344u, 0x5566u, 0x7788u) == UINT64_C(0x7788556611223344), \"record word\");\n")
	b.WriteString("SA(LRCHIP_RING_RECORD_WORD_TYPE(UINT64_C(0x7788556611223344)) == 0x5566, \"record type\");\n")
	b.WriteString("SA(LRCHIP_RING_RECORD_STRIDE(9) == 16, \"stride\");\n")
	b.WriteString("int lrchip_ring_header_check;\n")

	dir := t.TempDir()
	src := filepath.Join(dir, "check.c")
	require.NoError(t, os.WriteFile(src, []byte(b.String()), 0o644))
	inc, err := filepath.Abs(filepath.Dir(committed))
	require.NoError(t, err)
	ran := false
	for _, c := range []struct {
		env, def string
		args     []string
	}{
		{"CC", "cc", []string{"-std=c11"}},
		{"CXX", "c++", []string{"-x", "c++", "-std=c++11"}},
	} {
		compiler := os.Getenv(c.env)
		if compiler == "" {
			compiler = c.def
		}
		path, err := exec.LookPath(compiler)
		if err != nil {
			t.Logf("no %s (%s): not compiled", c.def, c.env)
			continue
		}
		args := append(append([]string{}, c.args...), "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", inc, "-c", "-o", filepath.Join(dir, c.def+".o"), src)
		out, err := exec.Command(path, args...).CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", path, strings.Join(args, " "), out)
		ran = true
	}
	if !ran {
		t.Skip("no C compiler found")
	}
}
