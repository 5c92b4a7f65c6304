package driver

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
)

var fallbackNote sync.Once

// OpenDefault opens uri; when uri is "", the first hardware board found, else the in-process
// emulator, which it says once per process on note (lrctl passes stderr; nil: silent).
func OpenDefault(ctx context.Context, uri string, opts Opts, note io.Writer) (*Device, error) {
	if uri == "" {
		u, fallback, err := DefaultURI(ctx, ListOpts{})
		if err != nil {
			return nil, err
		}
		if fallback && note != nil {
			fallbackNote.Do(func() {
				fmt.Fprintln(note, "lrctl: no board found; using the in-process emulator (emu:)")
			})
		}
		uri = u
	}
	return Open(ctx, uri, opts)
}

// RunImage is a whole run of a network on a device, what `lrctl run` does: load img, inject
// the spikes (each in its Timestep, counted from 1 after the load; 0 means step 1), run steps
// timesteps and return the load's result and everything the network output.
func RunImage(ctx context.Context, d *Device, img []byte, steps uint64, spikes []Spike) (LoadResult, Output, error) {
	res, err := d.Load(ctx, img)
	if err != nil {
		return res, Output{}, err
	}
	in := append([]Spike(nil), spikes...)
	for i := range in {
		if in[i].Timestep == 0 {
			in[i].Timestep = 1
		}
	}
	sort.SliceStable(in, func(i, j int) bool {
		if in[i].Timestep != in[j].Timestep {
			return in[i].Timestep < in[j].Timestep
		}
		return in[i].Port < in[j].Port
	})
	if err := d.Inject(ctx, in); err != nil {
		return res, Output{}, err
	}
	if _, err := d.Run(ctx, steps); err != nil {
		return res, Output{}, err
	}
	out, err := d.Read(ctx)
	return res, out, err
}
