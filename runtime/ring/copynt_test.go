package ring

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/internal/avotest"
)

func TestCopyNT(t *testing.T) {
	src := make([]byte, 3*4096+300)
	for i := range src {
		src[i] = byte(i*7 + i>>8)
	}
	buf := make([]byte, len(src)+256)
	for _, n := range []int{0, 1, 63, NTMinCopy - 1, NTMinCopy, NTMinCopy + 1, 4096, 4096 + 8, 3*4096 + 77, len(src)} {
		for _, doff := range []int{0, 1, 8, 31, 32, 56, 64, 100} {
			for _, soff := range []int{0, 3, 8} {
				if soff+n > len(src) {
					continue
				}
				for i := range buf {
					buf[i] = 0xAA
				}
				dst := buf[doff : doff+n]
				require.Equal(t, n, CopyNT(dst, src[soff:soff+n]))
				require.True(t, bytes.Equal(dst, src[soff:soff+n]), "n %d dst+%d src+%d", n, doff, soff)
				for i, b := range buf {
					if i < doff || i >= doff+n {
						require.Equal(t, byte(0xAA), b, "n %d dst+%d: byte %d outside dst written", n, doff, i)
					}
				}
			}
		}
	}
	// Lengths differ: like copy, the shorter one counts.
	require.Equal(t, 5000, CopyNT(make([]byte, 5000), src))
	require.Equal(t, 100, CopyNT(make([]byte, 8000), src[:100]))

	// Overlapping slices behave like copy (memmove).
	for _, shift := range []int{-100, -1, 1, 100} {
		a := append([]byte(nil), src...)
		b := append([]byte(nil), src...)
		lo, hi := 200, 200+8000
		copy(a[lo+shift:hi+shift], a[lo:hi])
		CopyNT(b[lo+shift:hi+shift], b[lo:hi])
		require.Equal(t, a, b, "shift %d", shift)
	}
}

func TestWriteNT(t *testing.T) {
	r, err := New(make([]byte, HeaderSize+1<<16), Opts{Heartbeat: -1})
	require.NoError(t, err)
	defer r.Close()
	p, err := r.Producer()
	require.NoError(t, err)
	c, err := r.Consumer()
	require.NoError(t, err)
	ctx := context.Background()
	payload := make([]byte, 4096+24)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	for i := range 40 { // several laps, padding included
		payload[0] = byte(i)
		n := 4096 + i%24
		require.NoError(t, p.WriteNT(ctx, 7, payload[:n]))
		rec, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, uint16(7), rec.Type)
		require.Equal(t, payload[:n], rec.Payload)
		c.Release()
	}
}

// TestGeneratedCopyIsCurrent regenerates copy_amd64.s with avo and compares it with the
// committed files: run `go generate ./runtime/ring` and commit when it fails.
func TestGeneratedCopyIsCurrent(t *testing.T) {
	avotest.CheckCurrent(t, "ring", "copy_amd64.s", "copy_amd64.go", "./runtime/ring")
}
