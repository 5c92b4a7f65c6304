// Package serve serves hostlib models over KServe's Open Inference Protocol (v2) REST API,
// which Triton speaks too; `lrctl serve` is its command.
//
//	GET  /v2                                   server metadata
//	GET  /v2/health/live, /v2/health/ready     server health (ready: every model has a working replica)
//	GET  /v2/models/NAME[/versions/V]          model metadata
//	GET  /v2/models/NAME[/versions/V]/ready    model health
//	POST /v2/models/NAME[/versions/V]/infer    inference
//	GET  /metrics                              Prometheus metrics
//
// A model has one version, "1". Its inputs are
//
//	rates   FP64 (or FP32)  [B, N], [B, K, N] or [N]: firing probabilities per step of the N
//	                        input neurons, for B samples (requests) of K windows (or one row for
//	                        every window); see hostlib.Input for the encoder
//	spikes  INT32 (or INT64, UINT32)  [S, 4] of (sample, step, neuron, payload), or [S, 3] of
//	                        (step, neuron, payload) for one sample
//
// (either or both), and request parameters "windows" (K, windows a sample) and "seed" (the
// rate encoder's). Its outputs, for B samples of K windows, are
//
//	class   INT32 [B, K]     the readout's argmax
//	scores  INT64 [B, K, M]  the readout's scores
//	counts  INT32 [B, K, N]  the output neurons' spike counts
//
// all three unless the request names some. The samples of one request run as separate
// hostlib requests (each from a fresh network state), concurrently across the replicas.
// Tensor data is JSON (flat or nested, row-major), or binary with the binary tensor data
// extension (Inference-Header-Content-Length; "binary_data_size" on inputs,
// "binary_data": true on outputs or "binary_data_output": true on the request).
//
// Errors are {"error": "..."} with 400 for a request that does not fit (hostlib.ErrInput,
// bad JSON, wrong shapes or types), 404 for an unknown model, 413 for a body over the limit,
// 503 when the model has no working replica or is closing or its device failed, 504 when the
// request's deadline passed.
package serve
