// Package hostlib puts the chip, with its GPU readout, behind a model name for inference
// servers: from Go (this package), from C and C++ (the C ABI in hostlib/capi, built by
// scripts/build-hostlib.sh into liblrchip.so), from Python (hostlib/python, over the C ABI)
// and over HTTP (hostlib/serve: KServe's Open Inference Protocol, as `lrctl serve`).
//
// # Hosts, models, replicas
//
// Open opens a set of devices (URIs; by default every board found, else the in-process
// emulator emu:). Host.Load loads a model onto some of them — a network description or
// image, its readout layer, the window length, the ports — one replica per device: each
// replica is a runtime/pipeline pipeline (the chip runs windows of timesteps while the GPU
// reads out the window before). A device serves one model at a time.
//
// # Requests
//
// A request (Input) is one sample of one or more windows: rates (firing probabilities per
// input neuron and step, turned into spikes by a documented deterministic encoder, the one
// lrctl pipeline's test patterns use) and/or explicit spike events. The network starts
// every request from the state of a fresh load (the replica reloads the image between two
// requests), and its state carries from one window of a request to the next. So:
//
//   - a request's result depends on nothing but its input: not on the replica, the other
//     requests, or the order they run in; every result is bit for bit what a single-threaded
//     run of the same input gives;
//   - a request of K windows of lrctl pipeline's patterns gives, window by window, the
//     counts, scores and classes of `lrctl pipeline`'s first K windows, and so its accuracy.
//
// The result (Result) holds, for every window, the output neurons' spike counts, the
// readout's scores and its argmax (the class).
//
// # Concurrency, batching, backpressure
//
// Model.Infer (blocking) and Model.Submit (asynchronous: a Pending to wait on) may be called
// from any number of goroutines. Requests wait in one queue per model (at most Spec.Queue;
// Submit blocks for room beyond it); each replica's chip stage takes the next request when
// it is ready for a window, so the requests of concurrent callers flow through the pipelines
// back to back, at most Spec.Depth windows in flight per replica, and the GPU stage reads
// out up to Spec.Batch windows of any requests in one launch.
//
// # Deadlines, cancellation, failures, Close
//
// The context given to Submit or Infer bounds the request: when it is done the request ends
// at once with its error, and its windows that have not started are skipped. A replica
// whose device fails (an error from the device, or the device gone: an emulator process
// killed, a board unplugged) is taken out for good and its device closed; the requests it
// held are moved to the front of the queue and run again from their first window on another
// replica — a request runs at most MaxAttempts (2) times — and fail with ErrDevice (wrapping
// the device's error, e.g. driver.ErrGone) when no other replica is left or it failed
// twice. When the last replica is gone, the requests waiting fail, and Submit fails at once,
// with ErrNoReplica. Close stops taking requests (ErrClosed), runs every request already
// submitted to its end, then stops; Shutdown does the same within a deadline.
package hostlib
