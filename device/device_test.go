package device

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
)

// opened is a Device that only says which opener made it (the methods are not called).
type opened struct {
	Device
	by   string
	uri  string
	opts Opts
}

func TestOpenPicksTheLongestPrefix(t *testing.T) {
	for _, p := range []string{"tst:", "tst:sub:"} {
		Register(p, func(ctx context.Context, uri string, o Opts) (Device, error) {
			return &opened{by: p, uri: uri, opts: o}, nil
		})
	}
	d, err := Open(context.Background(), "tst:sub:x", Opts{Size: chip.Full})
	require.NoError(t, err)
	require.Equal(t, &opened{by: "tst:sub:", uri: "tst:sub:x", opts: Opts{Size: chip.Full}}, d)
	d, err = Open(context.Background(), "tst:other", Opts{})
	require.NoError(t, err)
	require.Equal(t, "tst:", d.(*opened).by)

	_, err = Open(context.Background(), "nope:1", Opts{})
	require.ErrorIs(t, err, ErrNoDevice)
	require.ErrorContains(t, err, `device: "nope:1": no such device (this program opens `)
	require.Contains(t, Schemes(), "tst:sub:")
	require.Panics(t, func() { Register("tst:", nil) })
}

func TestDefaultAndResolve(t *testing.T) {
	var boards []string
	var fail error
	RegisterFinder(func(ctx context.Context) ([]string, error) { return boards, fail })

	// Nothing found: the in-process emulator, said once.
	uri, fallback, err := DefaultURI(context.Background())
	require.NoError(t, err)
	require.Equal(t, "emu:", uri)
	require.True(t, fallback)
	var note bytes.Buffer
	for range 2 {
		uri, err = Resolve(context.Background(), "", &note)
		require.NoError(t, err)
		require.Equal(t, "emu:", uri)
	}
	require.Equal(t, "no board or emulator process found; using the in-process emulator (emu:)\n", note.String())

	// A board found comes first, and the choice is said; a URI given is taken as it is.
	boards = []string{"usb:1209:0001:A", "pcie:0000:01:00.0"}
	note.Reset()
	uri, err = Resolve(context.Background(), "", &note)
	require.NoError(t, err)
	require.Equal(t, "usb:1209:0001:A", uri)
	require.Equal(t, "using usb:1209:0001:A, the first device found (--device URI to choose; lrctl list shows them)\n", note.String())
	uri, err = Resolve(context.Background(), "emu:unix:/x", nil)
	require.NoError(t, err)
	require.Equal(t, "emu:unix:/x", uri)

	// A finder that fails with nothing else found is an error.
	boards, fail = nil, errors.New("sysfs unreadable")
	_, _, err = DefaultURI(context.Background())
	require.ErrorContains(t, err, "sysfs unreadable")
}
