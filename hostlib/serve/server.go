package serve

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lrchip/lrchip/hostlib"
)

// Defaults of Opts.
const (
	DefaultMaxBody = 64 << 20
	DefaultTimeout = 60 * time.Second
	// MaxBatch bounds the samples of one request.
	MaxBatch = 4096
)

// Opts configures New. The zero value gives the documented defaults.
type Opts struct {
	// Name is the server's name in its metadata. Default "lrchip".
	Name string
	// MaxBody bounds a request's body. Default DefaultMaxBody.
	MaxBody int64
	// Timeout bounds an inference request (its samples' hostlib requests). Default
	// DefaultTimeout.
	Timeout time.Duration
	// Registry receives the metrics (served at /metrics). Default: a new registry.
	Registry *prometheus.Registry
}

// Server is the HTTP handler.
type Server struct {
	host *hostlib.Host
	opts Opts
	mux  *http.ServeMux
	reqs *prometheus.CounterVec
	dur  *prometheus.HistogramVec
}

// New returns a server of host's models.
func New(host *hostlib.Host, opts Opts) *Server {
	if opts.Name == "" {
		opts.Name = "lrchip"
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &Server{host: host, opts: opts, mux: http.NewServeMux()}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lrchip_http_infer_requests_total",
		Help: "Inference requests over HTTP, by model and status code."}, []string{"model", "code"})
	s.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lrchip_http_infer_duration_seconds",
		Help:    "Latency of inference requests over HTTP, from the request to the response.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18)}, []string{"model"})
	opts.Registry.MustRegister(s.reqs, s.dur, &collector{host: host})
	// Patterns without methods, so that a wrong method gets an error in the protocol's format.
	s.mux.HandleFunc("/v2", only("GET", s.serverMeta))
	s.mux.HandleFunc("/v2/health/live", only("GET", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]bool{"live": true}) }))
	s.mux.HandleFunc("/v2/health/ready", only("GET", s.serverReady))
	for _, v := range []string{"", "/versions/{version}"} {
		s.mux.HandleFunc("/v2/models/{model}"+v, only("GET", s.modelMeta))
		s.mux.HandleFunc("/v2/models/{model}"+v+"/ready", only("GET", s.modelReady))
		s.mux.HandleFunc("/v2/models/{model}"+v+"/infer", only("POST", s.infer))
	}
	s.mux.Handle("/metrics", only("GET", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{}).ServeHTTP))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return s
}

func only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method))
			return
		}
		h(w, r)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func (s *Server) serverMeta(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"name": s.opts.Name, "version": hostlib.Version, "extensions": []string{"binary_tensor_data"}})
}

func (s *Server) serverReady(w http.ResponseWriter, r *http.Request) {
	ms := s.host.Models()
	ready := len(ms) > 0
	for _, m := range ms {
		ready = ready && m.Ready()
	}
	code := 200
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]bool{"ready": ready})
}

// model finds the model a request names, or writes the error.
func (s *Server) model(w http.ResponseWriter, r *http.Request) *hostlib.Model {
	name := r.PathValue("model")
	m, ok := s.host.Model(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no model %q", name))
		return nil
	}
	if v := r.PathValue("version"); v != "" && v != "1" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q has no version %q (it has version 1)", name, v))
		return nil
	}
	return m
}

type tensorMeta struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

func (s *Server) modelMeta(w http.ResponseWriter, r *http.Request) {
	m := s.model(w, r)
	if m == nil {
		return
	}
	i := m.Info()
	writeJSON(w, 200, map[string]any{
		"name": i.Name, "versions": []string{"1"}, "platform": "lrchip",
		"inputs": []tensorMeta{{"rates", "FP64", []int{-1, -1, i.Inputs}}, {"spikes", "INT32", []int{-1, 4}}},
		"outputs": []tensorMeta{{"class", "INT32", []int{-1, -1}}, {"scores", "INT64", []int{-1, -1, i.Scores}},
			{"counts", "INT32", []int{-1, -1, i.Outputs}}},
		"parameters": map[string]any{"network": i.Network, "window": i.Window, "max_windows": i.MaxWindows,
			"seed": i.Seed, "gpu": i.GPU, "input_port": i.Input, "output_port": i.Output},
	})
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	m := s.model(w, r)
	if m == nil {
		return
	}
	code := 200
	if !m.Ready() {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"name": m.Info().Name, "ready": m.Ready()})
}

// statusOf maps an inference error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errRequest), errors.Is(err, hostlib.ErrInput):
		return http.StatusBadRequest
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, hostlib.ErrNoReplica), errors.Is(err, hostlib.ErrClosed), errors.Is(err, hostlib.ErrDevice),
		errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	m := s.model(w, r)
	if m == nil {
		return
	}
	name := m.Info().Name
	code := http.StatusOK
	defer func() {
		s.reqs.WithLabelValues(name, strconv.Itoa(code)).Inc()
		s.dur.WithLabelValues(name).Observe(time.Since(t0).Seconds())
	}()
	fail := func(err error) {
		code = statusOf(err)
		writeError(w, code, err.Error())
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(fmt.Errorf("%w: the body is over %d bytes", errTooLarge, s.opts.MaxBody))
		} else {
			fail(fmt.Errorf("%w: reading the body: %w", errRequest, err))
		}
		return
	}
	req, err := parseRequest(body, r.Header.Get("Inference-Header-Content-Length"))
	if err != nil {
		fail(err)
		return
	}
	batch, err := req.inputs(m)
	if err != nil {
		fail(err)
		return
	}
	outs, err := req.wanted()
	if err != nil {
		fail(err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	results, err := run(ctx, m, batch)
	if err != nil {
		fail(err)
		return
	}
	resp, bin := respond(req, m.Info(), results, outs)
	if bin == nil {
		writeJSON(w, 200, resp)
		return
	}
	head, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
	w.WriteHeader(200)
	w.Write(head)
	w.Write(bin)
}

// run submits every sample, then waits for all of them.
func run(ctx context.Context, m *hostlib.Model, batch []hostlib.Input) ([]hostlib.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failure ends the other samples too
	ps := make([]*hostlib.Pending, len(batch))
	for i, in := range batch {
		p, err := m.Submit(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
		ps[i] = p
	}
	res := make([]hostlib.Result, len(batch))
	for i, p := range ps {
		<-p.Done()
		r, err := p.Result()
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
		res[i] = r
	}
	return res, nil
}

// respond builds the response: JSON tensors, or their bytes when binary output is asked for.
func respond(req *request, info hostlib.Info, results []hostlib.Result, outs []wanted) (map[string]any, []byte) {
	b, k := len(results), 0
	if b > 0 {
		k = results[0].Windows
	}
	var tensors []map[string]any
	var bin []byte
	for _, o := range outs {
		t := map[string]any{"name": o.name}
		var data any
		var raw []byte
		switch o.name {
		case "class":
			t["datatype"], t["shape"] = "INT32", []int{b, k}
			v := make([]int32, 0, b*k)
			for _, r := range results {
				for _, c := range r.Class {
					v = append(v, int32(c))
				}
			}
			data, raw = v, le32(v)
		case "scores":
			t["datatype"], t["shape"] = "INT64", []int{b, k, info.Scores}
			v := make([]int64, 0, b*k*info.Scores)
			for _, r := range results {
				v = append(v, r.Scores...)
			}
			data, raw = v, le64(v)
		case "counts":
			t["datatype"], t["shape"] = "INT32", []int{b, k, info.Outputs}
			v := make([]int32, 0, b*k*info.Outputs)
			for _, r := range results {
				v = append(v, r.Counts...)
			}
			data, raw = v, le32(v)
		}
		if o.binary {
			t["parameters"] = map[string]any{"binary_data_size": len(raw)}
			bin = append(bin, raw...)
			if bin == nil {
				bin = []byte{}
			}
		} else {
			t["data"] = data
		}
		tensors = append(tensors, t)
	}
	resp := map[string]any{"model_name": info.Name, "model_version": "1", "outputs": tensors}
	if req.ID != "" {
		resp["id"] = req.ID
	}
	return resp, bin
}

func le32(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func le64(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}
