package ring

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMemIsTheMapping checks that Mem exposes the very memory records travel through: a
// record written by the producer is visible in it at the data area's offset.
func TestMemIsTheMapping(t *testing.T) {
	r, err := Create(Opts{Capacity: 4096})
	require.NoError(t, err)
	defer r.Close()
	mem := r.Mem()
	require.Equal(t, HeaderSize+4096, len(mem))
	p, err := r.Producer()
	require.NoError(t, err)
	require.NoError(t, p.TryWrite(7, []byte("callosum")))
	require.Equal(t, "callosum", string(mem[HeaderSize+RecordHeaderSize:HeaderSize+RecordHeaderSize+8]))
}
