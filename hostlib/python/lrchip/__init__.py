"""lrchip: hostlib's Python client, the lrchip chip (with its GPU readout) as an inference
backend. ctypes over liblrchip.so (the C ABI of lrchip.h); numpy arrays in and out.

    import lrchip
    with lrchip.Host(["emu:"]) as host:
        with host.load("pipeline", "examples/pipeline/pipeline.yaml", gpu="cpu") as model:
            r = model.infer(rates=rates)   # (windows, inputs) or (inputs,) firing probabilities
            r.classes, r.scores, r.counts

A request is one sample of one or more windows of the model's timesteps; the network starts
every request from the state of a fresh load and carries its state across the request's
windows, so a result depends on its input only. Rates are firing probabilities per step,
turned into spikes by hostlib's deterministic encoder (the one of lrctl pipeline's test
patterns). Models and hosts are safe to use from many threads: the calls release the GIL.
"""

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ABI_VERSION", "Host", "Model", "ModelInfo", "Result", "LrchipError", "InvalidArgument", "InputError", "ConfigError",
    "NoDevice", "DeviceError", "NoReplica", "Closed", "Timeout", "Cancelled", "BufferTooSmall", "InternalError",
    "version", "abi_version", "library_path",
]

ABI_VERSION = 1  # LRCHIP_ABI_VERSION of the lrchip.h this module speaks


class LrchipError(Exception):
    """An error status of liblrchip: .status is its code, .name its C name."""

    status = -1
    name = "LRCHIP_ERR"

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidArgument(LrchipError, ValueError):
    status, name = 1, "LRCHIP_ERR_INVALID"


class InputError(LrchipError, ValueError):
    status, name = 2, "LRCHIP_ERR_INPUT"


class ConfigError(LrchipError):
    status, name = 3, "LRCHIP_ERR_CONFIG"


class NoDevice(LrchipError):
    status, name = 4, "LRCHIP_ERR_NO_DEVICE"


class DeviceError(LrchipError):
    status, name = 5, "LRCHIP_ERR_DEVICE"


class NoReplica(LrchipError):
    status, name = 6, "LRCHIP_ERR_NO_REPLICA"


class Closed(LrchipError):
    status, name = 7, "LRCHIP_ERR_CLOSED"


class Timeout(LrchipError, TimeoutError):
    status, name = 8, "LRCHIP_ERR_TIMEOUT"


class Cancelled(LrchipError):
    status, name = 9, "LRCHIP_ERR_CANCELLED"


class BufferTooSmall(LrchipError):
    status, name = 10, "LRCHIP_ERR_BUFFER"


class InternalError(LrchipError):
    status, name = 11, "LRCHIP_ERR_INTERNAL"


_ERRORS = {c.status: c for c in (InvalidArgument, InputError, ConfigError, NoDevice, DeviceError, NoReplica, Closed, Timeout,
                                 Cancelled, BufferTooSmall, InternalError)}


# The C types of lrchip.h.
class _Handle(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64)]


class _Spike(ctypes.Structure):
    _fields_ = [("step", ctypes.c_uint32), ("neuron", ctypes.c_uint32), ("payload", ctypes.c_int32)]


class _Spec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("path", ctypes.c_char_p), ("readout", ctypes.c_char_p), ("input", ctypes.c_char_p),
                ("output", ctypes.c_char_p), ("gpu", ctypes.c_char_p), ("devices", ctypes.POINTER(ctypes.c_char_p)),
                ("n_devices", ctypes.c_size_t), ("window", ctypes.c_uint32), ("max_windows", ctypes.c_uint32),
                ("depth", ctypes.c_uint32), ("batch", ctypes.c_uint32), ("queue", ctypes.c_uint32), ("seed", ctypes.c_uint64)]


class _Info(ctypes.Structure):
    _fields_ = [("inputs", ctypes.c_uint32), ("outputs", ctypes.c_uint32), ("scores", ctypes.c_uint32), ("window", ctypes.c_uint32),
                ("max_windows", ctypes.c_uint32), ("replicas", ctypes.c_uint32), ("replicas_up", ctypes.c_uint32),
                ("seed", ctypes.c_uint64), ("name", ctypes.c_char * 72), ("gpu", ctypes.c_char * 16)]


class _Input(ctypes.Structure):
    _fields_ = [("windows", ctypes.c_uint32), ("rates", ctypes.POINTER(ctypes.c_double)), ("n_rates", ctypes.c_size_t),
                ("spikes", ctypes.POINTER(_Spike)), ("n_spikes", ctypes.c_size_t), ("seed", ctypes.c_uint64)]


class _Output(ctypes.Structure):
    _fields_ = [("classes", ctypes.POINTER(ctypes.c_int32)), ("classes_cap", ctypes.c_size_t),
                ("scores", ctypes.POINTER(ctypes.c_int64)), ("scores_cap", ctypes.c_size_t),
                ("counts", ctypes.POINTER(ctypes.c_int32)), ("counts_cap", ctypes.c_size_t), ("windows", ctypes.c_uint32)]


_SPIKE_DTYPE = np.dtype([("step", "<u4"), ("neuron", "<u4"), ("payload", "<i4")])
assert _SPIKE_DTYPE.itemsize == ctypes.sizeof(_Spike)


def library_path():
    """Where the library is loaded from: $LRCHIP_LIBRARY, else the copy installed with this
    package, else liblrchip.so from the system's library path."""
    env = os.environ.get("LRCHIP_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent / "liblrchip.so"
    if here.is_file():
        return str(here)
    return ctypes.util.find_library("lrchip") or "liblrchip.so"


_lib = None


def _load():
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(library_path())
    sig = {
        "lrchip_abi_version": (ctypes.c_uint32, []),
        "lrchip_version": (ctypes.c_char_p, []),
        "lrchip_last_error": (ctypes.c_char_p, []),
        "lrchip_status_string": (ctypes.c_char_p, [ctypes.c_int]),
        "lrchip_host_open": (ctypes.c_int, [ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.POINTER(_Handle)]),
        "lrchip_host_close": (ctypes.c_int, [_Handle]),
        "lrchip_model_load": (ctypes.c_int, [_Handle, ctypes.POINTER(_Spec), ctypes.POINTER(_Handle)]),
        "lrchip_model_info_get": (ctypes.c_int, [_Handle, ctypes.POINTER(_Info)]),
        "lrchip_model_close": (ctypes.c_int, [_Handle]),
        "lrchip_infer": (ctypes.c_int, [_Handle, ctypes.POINTER(_Input), ctypes.POINTER(_Output), ctypes.c_int64]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    if lib.lrchip_abi_version() != ABI_VERSION:
        raise ImportError(f"lrchip: {library_path()} has ABI {lib.lrchip_abi_version()}, this module speaks {ABI_VERSION}")
    _lib = lib
    return lib


def _check(status, what):
    """Raises the exception of a status; the message is the calling thread's (the library
    keeps one per thread, and ctypes calls on the same thread)."""
    if status == 0:
        return
    msg = (_load().lrchip_last_error() or b"").decode(errors="replace")
    cls = _ERRORS.get(status, LrchipError)
    raise cls(f"{what}: {msg}" if msg else what, status)


def version():
    """The library's version string."""
    return _load().lrchip_version().decode()


def abi_version():
    """The library's ABI version (ABI_VERSION for a library this module can use)."""
    return _load().lrchip_abi_version()


def _cstr(s):
    return None if s is None else str(s).encode()


@dataclass(frozen=True)
class ModelInfo:
    name: str
    inputs: int       # input neurons: the width of a window of rates
    outputs: int      # output neurons: the width of a window of counts
    scores: int       # the readout's scores (classes)
    window: int       # timesteps per window
    max_windows: int  # most windows a request
    seed: int         # the rate encoder's default seed
    replicas: int
    replicas_up: int
    gpu: str          # the readout's backend


@dataclass(frozen=True)
class Result:
    classes: np.ndarray  # (windows,) int32: each window's argmax
    scores: np.ndarray   # (windows, scores) int64
    counts: np.ndarray   # (windows, outputs) int32: the output neurons' spike counts

    @property
    def windows(self):
        return len(self.classes)


class Host:
    """A set of open devices (URIs; None: every board found, else the in-process emulator
    "emu:"). Use it as a context manager, or close() it."""

    def __init__(self, devices=None):
        lib = _load()
        devs = [] if devices is None else [str(d) for d in devices]
        arr = (ctypes.c_char_p * max(len(devs), 1))(*[d.encode() for d in devs])
        h = _Handle()
        _check(lib.lrchip_host_open(arr if devs else None, len(devs), ctypes.byref(h)), "lrchip: opening the devices")
        self._h = h
        self._models = []

    def load(self, name, path, readout=None, input=None, output=None, gpu=None, devices=None, window=0, max_windows=0,
             depth=0, batch=0, queue=0, seed=0):
        """Loads a model (see lrchip_model_spec in lrchip.h for every argument) and returns it."""
        if self._h is None:
            raise Closed("lrchip: load: the host is closed")
        devs = [] if devices is None else [str(d) for d in devices]
        arr = (ctypes.c_char_p * max(len(devs), 1))(*[d.encode() for d in devs])
        spec = _Spec(name=_cstr(name), path=_cstr(path), readout=_cstr(readout), input=_cstr(input), output=_cstr(output),
                     gpu=_cstr(gpu), devices=arr if devs else None, n_devices=len(devs), window=window,
                     max_windows=max_windows, depth=depth, batch=batch, queue=queue, seed=seed)
        m = _Handle()
        _check(_load().lrchip_model_load(self._h, ctypes.byref(spec), ctypes.byref(m)), f"lrchip: loading {name!r} from {path}")
        model = Model(m)
        self._models.append(model)
        return model

    def close(self):
        """Closes the models (running what they were given) and the devices. Idempotent."""
        if self._h is None:
            return
        h, self._h = self._h, None
        for m in self._models:
            m._h = None  # the host closes them
        _check(_load().lrchip_host_close(h), "lrchip: closing the host")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Model:
    """A model loaded on a host. infer() may be called from many threads at once."""

    def __init__(self, handle):
        self._h = handle
        self.info = self._info()

    def _info(self):
        info = _Info()
        _check(_load().lrchip_model_info_get(self._handle(), ctypes.byref(info)), "lrchip: model info")
        return ModelInfo(name=info.name.decode(), inputs=info.inputs, outputs=info.outputs, scores=info.scores,
                         window=info.window, max_windows=info.max_windows, seed=info.seed, replicas=info.replicas,
                         replicas_up=info.replicas_up, gpu=info.gpu.decode())

    def _handle(self):
        if self._h is None:
            raise Closed("lrchip: the model is closed")
        return self._h

    def replicas_up(self):
        """How many of the model's replicas still work."""
        return self._info().replicas_up

    def infer(self, rates=None, spikes=None, windows=0, seed=0, timeout=None):
        """Runs one request and returns its Result.

        rates: firing probabilities in [0, 1] per input neuron and step, shape (inputs,) for
        every window or (windows, inputs). spikes: explicit spikes, an (n, 3) integer array of
        (step, neuron, payload) or (n, 2) of (step, neuron) with payload 1; steps count from
        0 at the request's first step. windows: 0 for as many as the rates' rows, else enough
        for the last spike. seed: the rate encoder's seed (0: the model's). timeout: seconds
        (None: none). Errors raise the LrchipError of their status (InputError for an input
        that does not fit the model, which is also a ValueError)."""
        h = self._handle()
        inp = _Input(windows=int(windows), seed=int(seed))
        keep = []
        guess = int(windows)
        if rates is not None:
            r = np.ascontiguousarray(rates, dtype=np.float64)
            if r.ndim not in (1, 2):
                raise InputError(f"lrchip: infer: rates of shape {r.shape}, want (inputs,) or (windows, inputs)")
            if r.shape[-1] != self.info.inputs:
                raise InputError(f"lrchip: infer: rates of shape {r.shape}: the model has {self.info.inputs} input neurons")
            keep.append(r)
            inp.rates = r.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            inp.n_rates = r.size
            if not guess and r.ndim == 2:
                guess = r.shape[0]
        if spikes is not None:
            s = np.asarray(spikes)
            if s.size == 0:
                s = s.reshape(0, 3)
            if s.ndim != 2 or s.shape[1] not in (2, 3) or not np.issubdtype(s.dtype, np.integer):
                raise InputError(f"lrchip: infer: spikes of shape {s.shape} and type {s.dtype}, want (n, 3) or (n, 2) integers")
            if s.size and (s[:, :2].min() < 0 or s[:, :2].max() > 0xFFFFFFFF):
                raise InputError("lrchip: infer: a spike's step or neuron is negative or above 2^32-1")
            st = np.zeros(len(s), dtype=_SPIKE_DTYPE)
            st["step"], st["neuron"] = s[:, 0], s[:, 1]
            st["payload"] = s[:, 2] if s.shape[1] == 3 else 1
            keep.append(st)
            inp.spikes = st.ctypes.data_as(ctypes.POINTER(_Spike))
            inp.n_spikes = len(st)
            if not guess and len(st):
                guess = int(st["step"].max()) // self.info.window + 1
        guess = max(guess, 1)
        ms = 0 if timeout is None else max(1, int(timeout * 1000))
        lib = _load()
        for _ in range(2):  # a second time if the buffers were too small
            classes = np.zeros(guess, dtype=np.int32)
            scores = np.zeros((guess, self.info.scores), dtype=np.int64)
            counts = np.zeros((guess, self.info.outputs), dtype=np.int32)
            out = _Output(classes=classes.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), classes_cap=classes.size,
                          scores=scores.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), scores_cap=scores.size,
                          counts=counts.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), counts_cap=counts.size)
            st = lib.lrchip_infer(h, ctypes.byref(inp), ctypes.byref(out), ms)
            if st == BufferTooSmall.status and out.windows > guess:
                guess = out.windows
                continue
            _check(st, "lrchip: infer")
            w = out.windows
            return Result(classes=classes[:w], scores=scores[:w], counts=counts[:w])
        raise InternalError("lrchip: infer: the library asked for larger buffers twice")

    def close(self):
        """Stops taking requests, runs those given, and frees the model's devices. Idempotent."""
        if self._h is None:
            return
        h, self._h = self._h, None
        _check(_load().lrchip_model_close(h), "lrchip: closing the model")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
