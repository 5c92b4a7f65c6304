package serve

import (
	"context"
	"testing"

	"github.com/lrchip/lrchip/hostlib"
)

// FuzzRequest feeds arbitrary bodies (and binary header lengths) to the request decoder
// and the conversion into hostlib requests: an error or requests, never a panic.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"inputs":[{"name":"rates","shape":[1,20],"datatype":"FP64","data":[[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0.5]]}]}`,
		`{"inputs":[{"name":"spikes","shape":[2,4],"datatype":"INT32","data":[0,1,2,1,1,3,4,1]}],"parameters":{"windows":2}}`,
		`{"inputs":[{"name":"spikes","shape":[1,3],"datatype":"UINT32","parameters":{"binary_data_size":12}}]}` + "\x01\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00",
		`{"id":"x","inputs":[{"name":"rates","shape":[20],"datatype":"FP32","data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}],"outputs":[{"name":"class","parameters":{"binary_data":true}}]}`,
		`{"inputs":[{"name":"rates","shape":[3,2,20],"datatype":"FP64","data":[]}]}`,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"inputs":[]}`+"\x00\x00"), "13")
	h, err := hostlib.Open(context.Background(), hostlib.Opts{Devices: []string{"emu:"}})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	m, err := h.Load(context.Background(), hostlib.Spec{Name: "m", Path: "../../examples/pipeline/pipeline.yaml", GPU: "cpu", Window: 10, MaxWindows: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, headerLen string) {
		req, err := parseRequest(body, headerLen)
		if err != nil {
			return
		}
		if _, err := req.wanted(); err != nil {
			return
		}
		batch, err := req.inputs(m)
		if err != nil {
			return
		}
		if len(batch) < 1 || len(batch) > MaxBatch {
			t.Fatalf("%d samples accepted", len(batch))
		}
		for _, in := range batch {
			if _, err := m.Check(in); err != nil {
				t.Fatalf("accepted a sample the model refuses: %v", err)
			}
		}
	})
}
