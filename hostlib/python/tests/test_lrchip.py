"""pytest suite of the lrchip Python package (run by scripts/test-hostlib.sh, never skipped in CI)."""
import json
import subprocess
import threading

import numpy as np
import pytest

import lrchip

CLASSES, INPUTS = 5, 20


def pattern_rates(k):
    """lrctl pipeline's patterns for windows 0..k-1."""
    return np.where(np.arange(INPUTS)[None, :] % CLASSES == (np.arange(k) % CLASSES)[:, None], 0.5, 0.05)


@pytest.fixture
def model(example):
    with lrchip.Host(["emu:", "emu:"]) as host:
        with host.load("example", example, gpu="cpu", window=20, max_windows=64, queue=16) as m:
            yield m


def test_version():
    assert lrchip.abi_version() == lrchip.ABI_VERSION
    assert lrchip.version().startswith("lrchip ")


def test_info(model):
    i = model.info
    assert (i.name, i.inputs, i.outputs, i.scores, i.window, i.max_windows, i.replicas, i.gpu) == (
        "example", 20, 32, 5, 20, 64, 2, "cpu")
    assert model.replicas_up() == 2


def test_result_shapes_and_determinism(model):
    rng = np.random.default_rng(3)
    rates = rng.uniform(0, 0.6, size=(3, INPUTS))
    a = model.infer(rates=rates)
    assert a.classes.shape == (3,) and a.classes.dtype == np.int32
    assert a.scores.shape == (3, CLASSES) and a.scores.dtype == np.int64
    assert a.counts.shape == (3, 32) and a.counts.dtype == np.int32
    assert a.counts.sum() > 0
    b = model.infer(rates=rates)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.classes, np.argmax(a.scores, axis=1))
    c = model.infer(rates=rates, seed=12345)
    assert not np.array_equal(a.counts, c.counts), "another seed, other spikes"


def test_one_row_of_rates_for_all_windows(model):
    row = pattern_rates(1)[0]
    a = model.infer(rates=row, windows=4)
    b = model.infer(rates=np.tile(row, (4, 1)))
    assert a.windows == 4
    assert np.array_equal(a.scores, b.scores)


def test_spikes(model):
    s = model.infer(spikes=[[0, 1, 1], [5, 2, 1], [45, 3, 1]])
    assert s.windows == 3, "enough windows for the last spike (step 45, 20 steps a window)"
    s2 = model.infer(spikes=np.array([[0, 1], [5, 2], [45, 3]]))
    assert np.array_equal(s.counts, s2.counts), "payload 1 by default"
    e = model.infer(spikes=np.zeros((0, 3), dtype=np.int64), windows=2)
    assert e.windows == 2


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(rates=np.zeros(21)), lrchip.InputError, "21"),
    (dict(rates=np.zeros((2, 3, 20))), lrchip.InputError, "shape"),
    (dict(rates=np.full(20, np.nan)), lrchip.InputError, "rate NaN of input neuron 0"),
    (dict(rates=np.full(20, 1.5)), lrchip.InputError, "rate 1.5"),
    (dict(rates=np.zeros((3, 20)), windows=2), lrchip.InputError, "3 windows of rates for a request of 2"),
    (dict(windows=65), lrchip.InputError, "65 windows, want 1..64"),
    (dict(spikes=[[0, 20, 1]]), lrchip.InputError, "neuron 20 outside"),
    (dict(spikes=[[-1, 0, 1]]), lrchip.InputError, "negative"),
    (dict(spikes=[[0.5, 1, 1]]), lrchip.InputError, "integers"),
    (dict(spikes=[[10, 1, 1]], windows=0, rates=np.zeros((65, 20))), lrchip.InputError, "1300 rates, more than 64 windows"),
])
def test_input_errors(model, kwargs, exc, msg):
    with pytest.raises(exc, match=msg) as e:
        model.infer(**kwargs)
    assert isinstance(e.value, ValueError)


def test_load_errors(example):
    with lrchip.Host(["emu:"]) as host:
        with pytest.raises(lrchip.ConfigError, match="nowhere.yaml"):
            host.load("m", "nowhere.yaml")
        with pytest.raises(lrchip.ConfigError, match="model name"):
            host.load("a/b", example)
        with pytest.raises(lrchip.NoDevice, match="no free device"):
            host.load("m", example, devices=["usb:1234:5678"])
        m = host.load("m", example, gpu="cpu")
        with pytest.raises(lrchip.ConfigError, match="is loaded"):
            host.load("m", example)
    with pytest.raises(lrchip.NoDevice):
        lrchip.Host(["nosuch:"])


def test_closed(example):
    host = lrchip.Host(["emu:"])
    m = host.load("m", example, gpu="cpu")
    m.close()
    m.close()
    with pytest.raises(lrchip.Closed):
        m.infer(windows=1)
    host.close()
    host.close()
    with pytest.raises(lrchip.Closed):
        host.load("n", example)


def test_timeout(example):
    with lrchip.Host(["emu:"]) as host, host.load("m", example, gpu="cpu", max_windows=4096) as m:
        with pytest.raises(lrchip.Timeout) as e:
            m.infer(windows=4096, timeout=0.001)
        assert isinstance(e.value, TimeoutError)
        assert m.infer(windows=1).windows == 1, "the model serves on"


def test_threads(model):
    """64 threads: every result equals the single-threaded run of its input."""
    rng = np.random.default_rng(11)
    inputs = [rng.uniform(0, 0.6, size=(1 + k % 3, INPUTS)) for k in range(16)]
    want = [model.infer(rates=r) for r in inputs]
    errors, done = [], []

    def worker(t):
        try:
            for n in range(6):
                k = (t * 5 + n) % len(inputs)
                got = model.infer(rates=inputs[k])
                if not (np.array_equal(got.scores, want[k].scores) and np.array_equal(got.counts, want[k].counts)):
                    errors.append(f"thread {t} request {n}: input {k} differs")
                done.append(1)
        except Exception as e:  # reported below
            errors.append(f"thread {t}: {e!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(64)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(done) == 64 * 6


def test_same_accuracy_as_lrctl_pipeline(example, lrctl):
    k = 300
    out = subprocess.run([lrctl, "pipeline", example, "--device", "emu:", "--gpu", "cpu", "--windows", str(k), "--json"],
                         check=True, capture_output=True, text=True).stdout
    want = json.loads(out)["accuracy"]
    with lrchip.Host(["emu:"]) as host, host.load("p", example, gpu="cpu") as m:
        r = m.infer(rates=pattern_rates(k))
    assert float(np.mean(r.classes == np.arange(k) % CLASSES)) == want


def test_emulator_process_killed(example, lrctl):
    """A device that goes away: DeviceError or NoReplica, never a hang; the model then has no replica."""
    import os
    import tempfile
    d = tempfile.mkdtemp(prefix="lrp")
    sock = os.path.join(d, "emu.sock")
    p = subprocess.Popen([lrctl, "emu", "serve", "--socket", sock], stdout=subprocess.PIPE, text=True)
    try:
        assert "emu:unix:" in p.stdout.readline()
        with lrchip.Host(["emu:unix:" + sock]) as host, host.load("m", example, gpu="cpu", max_windows=4096) as m:
            assert m.infer(rates=pattern_rates(3)).windows == 3
            p.kill()
            p.wait()
            with pytest.raises((lrchip.DeviceError, lrchip.NoReplica)):
                m.infer(windows=4096, timeout=60)
            with pytest.raises(lrchip.NoReplica):
                m.infer(windows=1)
            assert m.replicas_up() == 0
    finally:
        p.kill()
        p.wait()


def test_emulator_process(emu_process, example):
    """emu:unix: gives the bits of emu:."""
    rates = pattern_rates(4)
    with lrchip.Host([emu_process, "emu:"]) as host:
        a = host.load("a", example, gpu="cpu", devices=[emu_process]).infer(rates=rates)
        b = host.load("b", example, gpu="cpu", devices=["emu:"]).infer(rates=rates)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.counts, b.counts)
