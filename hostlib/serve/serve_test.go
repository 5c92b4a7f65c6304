package serve_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/hostlib"
	"github.com/lrchip/lrchip/hostlib/internal/emuproc"
	"github.com/lrchip/lrchip/hostlib/serve"
	"github.com/lrchip/lrchip/internal/testenv"
)

func TestMain(m *testing.M) {
	emuproc.Main()
	os.Exit(testenv.RunM(m))
}

const example = "../../examples/pipeline/pipeline.yaml"

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start serves a model of the example, named "m", on devs over real HTTP.
func start(t testing.TB, devs []string, opts serve.Opts, spec hostlib.Spec) (*httptest.Server, *hostlib.Model) {
	t.Helper()
	h, err := hostlib.Open(ctxT(t), hostlib.Opts{Devices: devs})
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	spec.Name, spec.Path, spec.GPU = "m", example, "cpu"
	m, err := h.Load(ctxT(t), spec)
	require.NoError(t, err)
	srv := httptest.NewServer(serve.New(h, opts))
	t.Cleanup(srv.Close)
	return srv, m
}

func do(t testing.TB, method, url string, body []byte, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b, resp.Header
}

func getJSON(t testing.TB, url string) (int, map[string]any) {
	code, b, _ := do(t, "GET", url, nil)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v), string(b))
	return code, v
}

func TestMetadataAndHealth(t *testing.T) {
	srv, _ := start(t, []string{"emu:"}, serve.Opts{}, hostlib.Spec{Window: 20})
	code, v := getJSON(t, srv.URL+"/v2")
	require.Equal(t, 200, code)
	require.Equal(t, "lrchip", v["name"])
	require.Equal(t, hostlib.Version, v["version"])
	code, v = getJSON(t, srv.URL+"/v2/health/live")
	require.Equal(t, 200, code)
	require.Equal(t, true, v["live"])
	code, v = getJSON(t, srv.URL+"/v2/health/ready")
	require.Equal(t, 200, code)
	require.Equal(t, true, v["ready"])
	for _, path := range []string{"/v2/models/m", "/v2/models/m/versions/1"} {
		code, v = getJSON(t, srv.URL+path)
		require.Equal(t, 200, code)
		require.Equal(t, "m", v["name"])
		require.Equal(t, []any{"1"}, v["versions"])
		require.Equal(t, []any{map[string]any{"name": "rates", "datatype": "FP64", "shape": []any{-1.0, -1.0, 20.0}},
			map[string]any{"name": "spikes", "datatype": "INT32", "shape": []any{-1.0, 4.0}}}, v["inputs"])
		require.Len(t, v["outputs"], 3)
		require.Equal(t, 20.0, v["parameters"].(map[string]any)["window"])
	}
	code, v = getJSON(t, srv.URL+"/v2/models/m/ready")
	require.Equal(t, 200, code)
	require.Equal(t, true, v["ready"])
	for path, want := range map[string]int{"/v2/models/nope": 404, "/v2/models/m/versions/2": 404, "/v3": 404, "/v2/models/nope/ready": 404} {
		code, v = getJSON(t, srv.URL+path)
		require.Equal(t, want, code, path)
		require.NotEmpty(t, v["error"], path)
	}
	code, b, _ := do(t, "DELETE", srv.URL+"/v2/models/m", nil)
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Contains(t, string(b), `"error"`)
	code, b, _ = do(t, "GET", srv.URL+"/v2/models/m/infer", nil)
	require.Equal(t, http.StatusMethodNotAllowed, code, string(b))
}

type inferResp struct {
	ID      string `json:"id"`
	Model   string `json:"model_name"`
	Outputs []struct {
		Name       string         `json:"name"`
		Datatype   string         `json:"datatype"`
		Shape      []int          `json:"shape"`
		Data       []int64        `json:"data"`
		Parameters map[string]int `json:"parameters"`
	} `json:"outputs"`
}

func infer(t testing.TB, url string, body any) inferResp {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	code, out, _ := do(t, "POST", url+"/v2/models/m/infer", b)
	require.Equal(t, 200, code, string(out))
	var r inferResp
	require.NoError(t, json.Unmarshal(out, &r))
	return r
}

// TestInferJSON: B samples of K windows over HTTP give what hostlib gives each of them.
func TestInferJSON(t *testing.T) {
	srv, m := start(t, []string{"emu:", "emu:"}, serve.Opts{}, hostlib.Spec{Window: 20})
	const b, k, n = 3, 2, 20
	rates := make([][][]float64, b)
	for s := range rates {
		rates[s] = make([][]float64, k)
		for w := range rates[s] {
			rates[s][w] = make([]float64, n)
			for i := range rates[s][w] {
				rates[s][w][i] = float64((s*7+w*3+i)%10) / 20
			}
		}
	}
	r := infer(t, srv.URL, map[string]any{"id": "r1", "parameters": map[string]any{"seed": 5},
		"inputs": []any{map[string]any{"name": "rates", "shape": []int{b, k, n}, "datatype": "FP64", "data": rates}}})
	require.Equal(t, "r1", r.ID)
	require.Equal(t, "m", r.Model)
	require.Len(t, r.Outputs, 3)
	for s := range b {
		var flat []float64
		for _, row := range rates[s] {
			flat = append(flat, row...)
		}
		want, err := m.Infer(ctxT(t), hostlib.Input{Rates: flat, Seed: 5})
		require.NoError(t, err)
		for _, o := range r.Outputs {
			switch o.Name {
			case "class":
				require.Equal(t, []int{b, k}, o.Shape)
				for w, c := range want.Class {
					require.Equal(t, int64(c), o.Data[s*k+w])
				}
			case "scores":
				require.Equal(t, "INT64", o.Datatype)
				require.Equal(t, []int{b, k, 5}, o.Shape)
				require.Equal(t, want.Scores, o.Data[s*k*5:(s+1)*k*5])
			case "counts":
				require.Equal(t, []int{b, k, 32}, o.Shape)
				for i, c := range want.Counts {
					require.Equal(t, int64(c), o.Data[s*k*32+i])
				}
			}
		}
	}
	// One output, flat data, rates of rank 2 and a windows parameter.
	flat := make([]float64, 2*n)
	for i := range flat {
		flat[i] = 0.3
	}
	r = infer(t, srv.URL, map[string]any{"parameters": map[string]any{"windows": 3},
		"inputs":  []any{map[string]any{"name": "rates", "shape": []int{2, n}, "datatype": "FP32", "data": flat}},
		"outputs": []any{map[string]any{"name": "scores"}}})
	require.Len(t, r.Outputs, 1)
	require.Equal(t, []int{2, 3, 5}, r.Outputs[0].Shape)
	want, err := m.Infer(ctxT(t), hostlib.Input{Windows: 3, Rates: flat[:n]})
	require.NoError(t, err)
	require.Equal(t, want.Scores, r.Outputs[0].Data[:15])
	require.Equal(t, want.Scores, r.Outputs[0].Data[15:], "the same input twice gives the same bits")
}

func TestInferSpikes(t *testing.T) {
	srv, m := start(t, []string{"emu:"}, serve.Opts{}, hostlib.Spec{Window: 20})
	spikes := [][]int64{{0, 1, 3, 1}, {1, 2, 4, 1}, {0, 30, 5, 1}, {1, 0, 0, 1}}
	r := infer(t, srv.URL, map[string]any{"inputs": []any{map[string]any{"name": "spikes", "shape": []int{4, 4}, "datatype": "INT32", "data": spikes}},
		"outputs": []any{map[string]any{"name": "counts"}}})
	require.Equal(t, []int{2, 2, 32}, r.Outputs[0].Shape, "2 samples; step 30 needs 2 windows of 20")
	want0, err := m.Infer(ctxT(t), hostlib.Input{Windows: 2, Spikes: []hostlib.Spike{{Step: 1, Neuron: 3, Payload: 1}, {Step: 30, Neuron: 5, Payload: 1}}})
	require.NoError(t, err)
	for i, c := range want0.Counts {
		require.Equal(t, int64(c), r.Outputs[0].Data[i])
	}
	r = infer(t, srv.URL, map[string]any{"inputs": []any{map[string]any{"name": "spikes", "shape": []int{2, 3}, "datatype": "INT64", "data": []int64{1, 3, 1, 30, 5, 1}}},
		"outputs": []any{map[string]any{"name": "counts"}}})
	require.Equal(t, []int{1, 2, 32}, r.Outputs[0].Shape)
	for i, c := range want0.Counts {
		require.Equal(t, int64(c), r.Outputs[0].Data[i])
	}
}

// TestInferBinary: the binary tensor data extension, in and out.
func TestInferBinary(t *testing.T) {
	srv, m := start(t, []string{"emu:"}, serve.Opts{}, hostlib.Spec{Window: 20})
	rates := make([]float64, 2*20)
	raw := make([]byte, 8*len(rates))
	for i := range rates {
		rates[i] = float64(i%7) / 10
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(rates[i]))
	}
	head, err := json.Marshal(map[string]any{
		"inputs":     []any{map[string]any{"name": "rates", "shape": []int{1, 2, 20}, "datatype": "FP64", "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs":    []any{map[string]any{"name": "scores", "parameters": map[string]any{"binary_data": true}}, map[string]any{"name": "class"}},
		"parameters": map[string]any{},
	})
	require.NoError(t, err)
	code, body, hdr := do(t, "POST", srv.URL+"/v2/models/m/infer", append(head, raw...), "Inference-Header-Content-Length", strconv.Itoa(len(head)))
	require.Equal(t, 200, code, string(body))
	n, err := strconv.Atoi(hdr.Get("Inference-Header-Content-Length"))
	require.NoError(t, err)
	var r inferResp
	require.NoError(t, json.Unmarshal(body[:n], &r))
	require.Equal(t, "scores", r.Outputs[0].Name)
	require.Equal(t, 2*5*8, r.Outputs[0].Parameters["binary_data_size"])
	require.Nil(t, r.Outputs[0].Data)
	want, err := m.Infer(ctxT(t), hostlib.Input{Rates: rates})
	require.NoError(t, err)
	bin := body[n:]
	require.Len(t, bin, 80)
	for i, s := range want.Scores {
		require.Equal(t, s, int64(binary.LittleEndian.Uint64(bin[8*i:])))
	}
	require.Equal(t, []int64{int64(want.Class[0]), int64(want.Class[1])}, r.Outputs[1].Data, "class as JSON")
}

func TestInferErrors(t *testing.T) {
	srv, _ := start(t, []string{"emu:"}, serve.Opts{MaxBody: 4096}, hostlib.Spec{Window: 20, MaxWindows: 8})
	nan := make([]byte, 8*20)
	binary.LittleEndian.PutUint64(nan[8*3:], math.Float64bits(math.NaN()))
	rates := func(shape string, data string) string {
		return `{"inputs":[{"name":"rates","shape":` + shape + `,"datatype":"FP64","data":` + data + `}]}`
	}
	zeros := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]" }
	for _, c := range []struct {
		name, body string
		hdr        []string
		code       int
		msg        string
	}{
		{"not JSON", `{"inputs": [`, nil, 400, "the request's JSON"},
		{"unknown field", `{"inputs":[], "bogus": 1}`, nil, 400, "bogus"},
		{"no inputs", `{"inputs":[]}`, nil, 400, "no inputs"},
		{"unknown input", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}`, nil, 400, `no input "x"`},
		{"input twice", `{"inputs":[` + strings.Repeat(`{"name":"rates","shape":[20],"datatype":"FP64","data":`+zeros(20)+`},`, 2)[:0] + `{"name":"rates","shape":[20],"datatype":"FP64","data":` + zeros(20) + `},{"name":"rates","shape":[20],"datatype":"FP64","data":` + zeros(20) + `}]}`, nil, 400, "given twice"},
		{"wrong width", rates("[1,19]", zeros(19)), nil, 400, "want [B, 20]"},
		{"too few values", rates("[1,20]", zeros(19)), nil, 400, "19 values for shape"},
		{"too many values", rates("[1,20]", zeros(21)), nil, 400, "more values than the shape holds"},
		{"a string", rates("[1,20]", `["a"]`), nil, 400, "string where a number"},
		{"negative dim", rates("[-1,20]", zeros(20)), nil, 400, "shape [-1 20]"},
		{"huge shape", rates("[100000,100000,20]", zeros(20)), nil, 400, "more than"},
		{"no samples", rates("[0,20]", "[]"), nil, 400, "no samples"},
		{"rate above 1", rates("[20]", "["+strings.TrimSuffix(strings.Repeat("2,", 20), ",")+"]"), nil, 400, "rate 2 of input neuron 0"},
		{"datatype", `{"inputs":[{"name":"rates","shape":[20],"datatype":"INT8","data":` + zeros(20) + `}]}`, nil, 400, "want FP64 or FP32"},
		{"spike shape", `{"inputs":[{"name":"spikes","shape":[1,5],"datatype":"INT32","data":[0,0,0,0,0]}]}`, nil, 400, "want [S, 4]"},
		{"spike neuron", `{"inputs":[{"name":"spikes","shape":[1,3],"datatype":"INT32","data":[0,20,1]}]}`, nil, 400, "neuron 20 outside"},
		{"spike step", `{"inputs":[{"name":"spikes","shape":[1,3],"datatype":"INT32","data":[-1,0,1]}]}`, nil, 400, "step -1"},
		{"spike not an integer", `{"inputs":[{"name":"spikes","shape":[1,3],"datatype":"INT32","data":[0.5,0,1]}]}`, nil, 400, "not an integer"},
		{"spike payload", `{"inputs":[{"name":"spikes","shape":[1,3],"datatype":"INT64","data":[0,0,4294967296]}]}`, nil, 400, "payload"},
		{"too many windows", `{"parameters":{"windows":9},"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","data":` + zeros(20) + `}]}`, nil, 400, `"windows" 9`},
		{"windows not a number", `{"parameters":{"windows":"x"},"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","data":` + zeros(20) + `}]}`, nil, 400, "not a non-negative integer"},
		{"unknown output", `{"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","data":` + zeros(20) + `}],"outputs":[{"name":"y"}]}`, nil, 400, `no output "y"`},
		{"binary NaN", `{"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","parameters":{"binary_data_size":160}}]}`, nil, 400, "rate NaN of input neuron 3"},
		{"binary size", `{"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","parameters":{"binary_data_size":8}}]}`, nil, 400, "binary_data_size 8 for 20"},
		{"header length", `{}`, []string{"Inference-Header-Content-Length", "99"}, 400, "Inference-Header-Content-Length"},
		{"oversized body", rates("[20]", "["+strings.Repeat("0.000000000001,", 400)+"0]"), nil, 413, "over 4096 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.body)
			hdr := c.hdr
			if strings.HasPrefix(c.name, "binary") {
				hdr = []string{"Inference-Header-Content-Length", strconv.Itoa(len(body))}
				body = append(body, nan...)
			}
			code, out, _ := do(t, "POST", srv.URL+"/v2/models/m/infer", body, hdr...)
			require.Equal(t, c.code, code, string(out))
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal(out, &e), string(out))
			require.Contains(t, e.Error, c.msg)
		})
	}
	code, _, _ := do(t, "POST", srv.URL+"/v2/models/nope/infer", []byte(`{}`))
	require.Equal(t, 404, code)
	// The server still serves.
	r := infer(t, srv.URL, map[string]any{"inputs": []any{map[string]any{"name": "rates", "shape": []int{20}, "datatype": "FP64", "data": make([]float64, 20)}}})
	require.Len(t, r.Outputs, 3)
}

// TestDeviceGone: a model whose only device went answers 503 and is not ready; metrics
// say the device is down.
func TestDeviceGone(t *testing.T) {
	board := emuproc.Start(t)
	srv, m := start(t, []string{board.URI}, serve.Opts{}, hostlib.Spec{Window: 20})
	body := []byte(`{"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","data":[` + strings.TrimSuffix(strings.Repeat("0.2,", 20), ",") + `]}]}`)
	code, out, _ := do(t, "POST", srv.URL+"/v2/models/m/infer", body)
	require.Equal(t, 200, code, string(out))
	board.Kill()
	for m.Ready() { // the replica notices at its next window
		code, out, _ = do(t, "POST", srv.URL+"/v2/models/m/infer", body)
		if code != 200 {
			break
		}
	}
	code, out, _ = do(t, "POST", srv.URL+"/v2/models/m/infer", body)
	require.Equal(t, 503, code, string(out))
	require.Contains(t, string(out), "no working replica")
	c, v := getJSON(t, srv.URL+"/v2/models/m/ready")
	require.Equal(t, 503, c)
	require.Equal(t, false, v["ready"])
	c, _ = getJSON(t, srv.URL+"/v2/health/ready")
	require.Equal(t, 503, c)
	_, metrics, _ := do(t, "GET", srv.URL+"/metrics", nil)
	require.Contains(t, string(metrics), fmt.Sprintf(`lrchip_device_up{device=%q,model="m"} 0`, board.URI))
}

func TestMetrics(t *testing.T) {
	srv, _ := start(t, []string{"emu:", "emu:"}, serve.Opts{}, hostlib.Spec{Window: 20})
	for range 3 {
		infer(t, srv.URL, map[string]any{"inputs": []any{map[string]any{"name": "rates", "shape": []int{2, 20}, "datatype": "FP64", "data": make([]float64, 40)}}})
	}
	do(t, "POST", srv.URL+"/v2/models/m/infer", []byte(`{`))
	code, b, _ := do(t, "GET", srv.URL+"/metrics", nil)
	require.Equal(t, 200, code)
	text := string(b)
	for _, want := range []string{
		`lrchip_http_infer_requests_total{code="200",model="m"} 3`,
		`lrchip_http_infer_requests_total{code="400",model="m"} 1`,
		`lrchip_http_infer_duration_seconds_count{model="m"} 4`,
		`lrchip_requests_total{model="m",outcome="completed"} 6`,
		`lrchip_requests_total{model="m",outcome="failed"} 0`,
		`lrchip_windows_total{model="m"} 6`,
		`lrchip_queue_length{model="m"} 0`,
		`lrchip_device_up{device="emu:#0",model="m"} 1`,
		`lrchip_device_up{device="emu:#1",model="m"} 1`,
		`lrchip_request_latency_seconds_count{model="m"} 6`,
	} {
		require.Contains(t, text, want)
	}
}

func TestParseModel(t *testing.T) {
	s, err := serve.ParseModel("a=net.yaml,readout=r.json,window=20,max-windows=9,depth=2,batch=1,queue=5,seed=7,input=in,output=out,gpu=cpu,devices=emu:+emu:unix:/x")
	require.NoError(t, err)
	require.Equal(t, hostlib.Spec{Name: "a", Path: "net.yaml", ReadoutPath: "r.json", Window: 20, MaxWindows: 9, Depth: 2, Batch: 1,
		Queue: 5, Seed: 7, Input: "in", Output: "out", GPU: "cpu", Devices: []string{"emu:", "emu:unix:/x"}}, s)
	for _, bad := range []string{"", "a", "=x", "a=", "a=x,window", "a=x,window=-1", "a=x,seed=q", "a=x,colour=red", "a=x,queue=1e3"} {
		_, err := serve.ParseModel(bad)
		require.ErrorIs(t, err, hostlib.ErrConfig, bad)
	}
	require.Equal(t, []string{"usb:1:2"}, serve.Devices(context.Background(), []string{"usb:1:2"}, nil))
	got := serve.Devices(context.Background(), nil, []hostlib.Spec{{Name: "a"}, {Name: "b"}, {Name: "c", Devices: []string{"emu:unix:/s"}}})
	require.Equal(t, []string{"emu:unix:/s", "emu:", "emu:"}, got, "no board here: one emu: per model without devices")
}

func FuzzParseModel(f *testing.F) {
	for _, s := range []string{"a=b", "a=b,window=3", "a=b,devices=x+y", "=", "a=b,,", "a=b,seed=18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := serve.ParseModel(s)
		if err == nil && (spec.Name == "" || spec.Path == "") {
			t.Fatalf("%q: accepted without a name or path", s)
		}
	})
}
