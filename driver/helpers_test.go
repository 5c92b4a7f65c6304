package driver

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/firmware/syn"
)

// relay spikes whenever its input is positive, with the input as graded payload, and keeps
// the last input in s0.
const relaySrc = `
.program relay
.state last
.temp fire
	mov  last, a
	sgt  fire, a, 0
	spkg fire, a
`

func mustAsm(t testing.TB, src string) *isa.Program {
	t.Helper()
	p, err := asm.Assemble("test.lra", []byte(src))
	require.NoError(t, err)
	return p
}

// relayImage is a network of n relay neurons on core 0 fed 1:1 by an input port of n with
// weight 2 (graded), and a second core of n relays fed by the first with weight 2 — so an
// injected payload p comes out of port 0 ("first") as 2p one step later and of port 1
// ("second") as 4p two steps later.
func relayImage(t testing.TB, n int) *image.Image {
	t.Helper()
	prog := mustAsm(t, relaySrc)
	diag := make([]int32, n*n)
	for i := 0; i < n; i++ {
		diag[i*n+i] = 2
	}
	return &image.Image{
		Name:   "relay",
		Size:   chip.Size{Cores: 2, NeuronsPerCore: n},
		Cores:  []image.Core{{Index: 0, Program: prog, Neurons: n}, {Index: 1, Program: prog, Neurons: n}},
		Inputs: []image.Input{{Name: "in", Size: n}},
		Conns: []image.Conn{
			{Name: "in", Kind: image.FromInput, Src: 0, SrcCount: n, Dst: 0, DstCount: n, Weights: diag, SignMode: syn.Mixed, WeightBits: 8, Graded: true},
			{Name: "mid", Kind: image.FromCore, Src: 0, SrcCount: n, Dst: 1, DstCount: n, Weights: diag, SignMode: syn.Mixed, WeightBits: 8, Graded: true},
		},
		Pops: []image.Population{
			{Name: "first", Size: n, Segments: []image.Segment{{Core: 0, Start: 0, Count: n}}},
			{Name: "second", Size: n, Segments: []image.Segment{{Core: 1, Start: 0, Count: n}}},
		},
		Outputs: []image.Output{{Name: "first", Pop: 0, Count: n}, {Name: "second", Pop: 1, Count: n}},
	}
}

func encode(t testing.TB, img *image.Image) []byte {
	t.Helper()
	b, err := img.MarshalBinary()
	require.NoError(t, err)
	return b
}

// ctxT bounds a test's calls: a safety net against a hang, generous enough for a machine
// loaded many times over (no test waits for it to pass).
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openFds counts this process's open descriptors.
func openFds(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// listFds describes this process's descriptors (for leak messages).
func listFds() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		out = append(out, e.Name()+"->"+l)
	}
	return strings.Join(out, " ")
}

func itoa(i int) string { return strconv.Itoa(i) }

// fdSet maps this process's descriptors to what they are.
func fdSet(t testing.TB) map[string]string {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	m := map[string]string{}
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		m[e.Name()] = l
	}
	return m
}

// requireNoNewFds fails if a descriptor is open now that was not in before (descriptors
// may have closed since: a reaped child's pidfd, say).
func requireNoNewFds(t testing.TB, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var leaked []string
		for fd, what := range fdSet(t) {
			if before[fd] != what && !strings.HasPrefix(what, "/proc/") {
				leaked = append(leaked, fd+"->"+what)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaked descriptors: %v", leaked)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The driver's tests reach the in-process board through emu: as programs do (emu/register
// cannot be imported here: it imports the driver), with the board's options set per test.
func init() {
	RegisterTransport(TransportEmu, func(ctx context.Context, u URI, opts Opts) (Link, error) {
		return dialBoard(ctx, board.Opts{Size: opts.Size}, opts)
	})
}

// dialBoard makes a board with bopts and links to it over a socket pair in this process.
func dialBoard(ctx context.Context, bopts board.Opts, opts Opts) (Link, error) {
	b, err := board.New(bopts)
	if err != nil {
		return nil, err
	}
	return linkBoard(ctx, b, opts, func() { b.Close() })
}

// linkBoard links to a board served in this process; closing the link stops the service,
// then runs onClose.
func linkBoard(ctx context.Context, b *board.Board, opts Opts, onClose func()) (Link, error) {
	conn, stop, err := b.Pipe()
	if err != nil {
		onClose()
		return nil, err
	}
	l, err := DialShm(ctx, conn, opts, "emu:", func() { stop(); onClose() })
	if err != nil {
		conn.Close()
		stop()
		onClose()
	}
	return l, err
}

// openOn opens a device on an existing board in this process.
func openOn(ctx context.Context, b *board.Board, opts Opts) (*Device, error) {
	l, err := linkBoard(ctx, b, opts, func() {})
	if err != nil {
		return nil, err
	}
	return OpenLink(ctx, "emu:", l, opts)
}

// openBoard opens a device on a board made with bopts.
func openBoard(ctx context.Context, bopts board.Opts, opts Opts) (*Device, error) {
	l, err := dialBoard(ctx, bopts, opts)
	if err != nil {
		return nil, err
	}
	return OpenLink(ctx, "emu:", l, opts)
}

// Shorthands that keep the tests' arithmetic on timesteps readable.

func read(d *Device, ctx context.Context) (chip.Output, error) {
	var out chip.Output
	err := d.Read(ctx, &out)
	return out, err
}

func loadImage(d *Device, ctx context.Context, img *image.Image) (LoadResult, error) {
	if err := d.Load(ctx, img); err != nil {
		return LoadResult{}, err
	}
	return d.Loaded(), nil
}

// runSteps runs n steps and returns the timestep reached.
func runSteps(d *Device, ctx context.Context, n uint64) (uint64, error) {
	err := d.Run(ctx, int(n))
	return d.Time(), err
}

func addProbe(d *Device, ctx context.Context, core int, kind regmap.ProbeField, index int, neurons []int) (int, error) {
	f := chip.Field{Kind: chip.FieldState, Index: index}
	switch kind {
	case regmap.ProbeInput:
		f = chip.Field{Kind: chip.FieldInput}
	case regmap.ProbeSpike:
		f = chip.Field{Kind: chip.FieldSpike}
	}
	return d.AddProbe(ctx, chip.Probe{Core: core, Field: f, Neurons: neurons})
}
