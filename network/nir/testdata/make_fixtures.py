"""Writes the NIR fixtures of network/nir's tests with the reference `nir` package.

Every .nir file in this folder except paper/ is written here, through nir.write (h5py), from
graphs built with nir's own classes; the legacy ones are then rewritten with h5py the way
older exporters wrote them (no v_reset, an old version string, float32, literal dotted names,
edges in no particular order). The tests only read the committed files.

    PYTHONPATH=/path/to/NIR NIR_VERSION=1.0.7 python3 make_fixtures.py [OUTDIR]

NIR_VERSION is the version string nir.write records: a source checkout has no package
metadata for nir to read it from. The committed files were written with neuromorphs/NIR at
commit 7232ada6d30e1beea78b180a5135b1a3bb3d3bc0 (v1.0.7 + 9 commits), numpy 1.24.2 and
h5py 3.7.0 (Debian 12), with NIR_VERSION=1.0.7.
"""

import os
import sys

import h5py
import numpy as np

import nir

if not hasattr(nir, "version"):
    nir.version = os.environ["NIR_VERSION"]

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(14)


def path(name):
    return os.path.join(OUT, name)


def lif_graph(dtype):
    """The issue's single neuron: Affine w=1 -> LIF tau=2.5 ms, r=1, v_th=0.1."""
    a = lambda x: np.array(x, dtype=dtype)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([1])),
            "affine": nir.Affine(weight=a([[1.0]]), bias=a([0.0])),
            "lif": nir.LIF(tau=a([0.0025]), r=a([1.0]), v_leak=a([0.0]), v_threshold=a([0.1]), v_reset=a([0.0])),
            "output": nir.Output(output_type=np.array([1])),
        },
        edges=[("input", "affine"), ("affine", "lif"), ("lif", "output")],
    )


def legacy(name, version, rename=None, drop=("v_reset",), dtype=np.float32, shuffle=True):
    """Rewrites a file written by nir.write the way an older exporter wrote it."""
    with h5py.File(path(name), "r+") as f:
        del f["version"]
        f.create_dataset("version", data=version, dtype=h5py.string_dtype())
        nodes = f["node/nodes"]
        for key in list(nodes.keys()):
            g = nodes[key]
            for d in list(g.keys()):
                if d in drop:
                    del g[d]
                elif isinstance(g[d], h5py.Dataset) and g[d].dtype.kind == "f" and g[d].dtype != dtype:
                    data = g[d][()].astype(dtype)
                    del g[d]
                    g.create_dataset(d, data=data)
            if rename and key in rename:
                nodes.move(key, rename[key])
        edges = [(a.decode(), b.decode()) for a, b in f["node/edges"][()]]
        if rename:
            edges = [(rename.get(a, a), rename.get(b, b)) for a, b in edges]
        if shuffle:
            edges = [edges[i] for i in np.random.default_rng(len(edges)).permutation(len(edges))]
        del f["node/edges"]
        f["node"].create_dataset("edges", data=np.array(edges, dtype=object), dtype=h5py.string_dtype())


def cuba_params(n, tau_syn, tau_mem, vth, dt=1e-3):
    """snnTorch Synaptic's export: r = tau_mem/dt, w_in = tau_syn/dt."""
    f = lambda x: np.full(n, x, dtype=np.float64)
    return dict(tau_syn=f(tau_syn), tau_mem=f(tau_mem), r=f(tau_mem / dt), v_leak=f(0.0),
                v_threshold=f(vth), w_in=f(tau_syn / dt))


def rnn_dotted():
    """A recurrent CubaLIF network as snnTorch 0.7 wrote it: the recurrent layer's nodes are
    top-level nodes whose names contain a dot (lif1.lif, lif1.w_rec)."""
    n_in, n_hid, n_out = 12, 38, 7
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc1": nir.Affine(weight=rng.normal(0, 0.4, (n_hid, n_in)).astype(np.float32), bias=rng.normal(0, 0.05, n_hid).astype(np.float32)),
        "lif1.lif": nir.CubaLIF(**cuba_params(n_hid, 2e-3, 4e-3, 1.0)),
        "lif1.w_rec": nir.Affine(weight=rng.normal(0, 0.2, (n_hid, n_hid)).astype(np.float32), bias=np.zeros(n_hid, dtype=np.float32)),
        "fc2": nir.Affine(weight=rng.normal(0, 0.4, (n_out, n_hid)).astype(np.float32), bias=np.zeros(n_out, dtype=np.float32)),
        "lif2": nir.CubaLIF(**cuba_params(n_out, 2e-3, 4e-3, 1.0)),
        "output": nir.Output(output_type=np.array([n_out])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1.lif"), ("lif1.lif", "lif1.w_rec"), ("lif1.w_rec", "lif1.lif"),
             ("lif1.lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def rnn_subgraph():
    """The same network as current snnTorch exports RSynaptic: a nested NIRGraph with its own
    Input and Output, entered and left by the subgraph's name."""
    n_in, n_hid, n_out = 12, 40, 7
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n_hid])),
            "lif": nir.CubaLIF(**cuba_params(n_hid, 2e-3, 4e-3, 1.0)),
            "w_rec": nir.Linear(weight=rng.normal(0, 0.2, (n_hid, n_hid))),
            "output": nir.Output(output_type=np.array([n_hid])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc1": nir.Linear(weight=rng.normal(0, 0.4, (n_hid, n_in))),
        "lif1": sub,
        "fc2": nir.Linear(weight=rng.normal(0, 0.4, (n_out, n_hid))),
        "lif2": nir.CubaLIF(**cuba_params(n_out, 2e-3, 4e-3, 1.0)),
        "output": nir.Output(output_type=np.array([n_out])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def cnn():
    """A small spiking CNN that fits the prototype chip: conv, IF, sum pooling, a grouped
    strided conv, average pooling, flatten, dense, LIF."""
    c = lambda *s: rng.normal(0, 0.5, s).astype(np.float32)
    ones = lambda *s: np.ones(s, dtype=np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([2, 12, 12])),
        "conv1": nir.Conv2d(input_shape=(12, 12), weight=c(4, 2, 3, 3), stride=1, padding=1, dilation=1, groups=1,
                            bias=np.zeros(4, dtype=np.float32)),
        "if1": nir.IF(r=ones(4, 12, 12), v_threshold=ones(4, 12, 12), v_reset=np.zeros((4, 12, 12), dtype=np.float32)),
        "pool1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "conv2": nir.Conv2d(input_shape=(6, 6), weight=c(8, 2, 3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=2,
                            bias=np.zeros(8, dtype=np.float32)),
        "if2": nir.IF(r=ones(8, 6, 6), v_threshold=ones(8, 6, 6), v_reset=np.zeros((8, 6, 6), dtype=np.float32)),
        "pool2": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([8, 3, 3])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=c(10, 72), bias=np.zeros(10, dtype=np.float32)),
        "lif": nir.LIF(tau=np.full(10, 0.02, dtype=np.float32), r=np.full(10, 20.0, dtype=np.float32),
                       v_leak=np.zeros(10, dtype=np.float32), v_threshold=ones(10), v_reset=np.zeros(10, dtype=np.float32)),
        "output": nir.Output(output_type=np.array([10])),
    }
    names = list(nodes)
    edges = [(names[i], names[i + 1]) for i in range(len(names) - 1)]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def zoo():
    """Every other node type: Conv1d with 'same' padding, dilation and a bias, Threshold,
    Flatten, Delay, Linear, Scale, LI, CubaLI, I, and two outputs."""
    f = lambda x, *s: np.full(s, x, dtype=np.float64)
    nodes = {
        "in": nir.Input(input_type=np.array([3, 8])),
        "c1": nir.Conv1d(input_shape=8, weight=rng.normal(0, 0.5, (4, 3, 3)), stride=1, padding="same", dilation=2, groups=1,
                         bias=np.array([0.1, -0.1, 0.05, 0.0])),
        "th": nir.Threshold(threshold=f(0.2, 4, 8)),
        "fl": nir.Flatten(input_type={"input": np.array([4, 8])}, start_dim=0, end_dim=-1),
        "dly": nir.Delay(delay=f(3e-3, 32)),
        "lin": nir.Linear(weight=rng.normal(0, 0.3, (6, 32))),
        "sc": nir.Scale(scale=np.linspace(0.5, 1.5, 6)),
        "li": nir.LI(tau=f(5e-3, 6), r=f(1.0, 6), v_leak=f(0.0, 6)),
        "lin2": nir.Linear(weight=rng.normal(0, 0.3, (5, 32))),
        "cli": nir.CubaLI(tau_syn=f(2e-3, 5), tau_mem=f(4e-3, 5), r=f(4.0, 5), v_leak=f(0.0, 5), w_in=f(2.0, 5)),
        "int": nir.I(r=f(0.5, 5)),
        "out_li": nir.Output(output_type=np.array([6])),
        "out_cli": nir.Output(output_type=np.array([5])),
        "out_int": nir.Output(output_type=np.array([5])),
    }
    edges = [("in", "c1"), ("c1", "th"), ("th", "fl"), ("fl", "dly"), ("dly", "lin"), ("lin", "sc"), ("sc", "li"),
             ("li", "out_li"), ("fl", "lin2"), ("lin2", "cli"), ("cli", "out_cli"), ("lin2", "int"), ("int", "out_int")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def cycle():
    """Hostile: a cycle through two non-neuron nodes (Affine <-> Scale), which no time step
    can break."""
    nodes = {
        "input": nir.Input(input_type=np.array([2])),
        "a": nir.Affine(weight=np.eye(2), bias=np.zeros(2)),
        "s": nir.Scale(scale=np.ones(2)),
        "lif": nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
        "output": nir.Output(output_type=np.array([2])),
    }
    edges = [("input", "a"), ("a", "s"), ("s", "a"), ("s", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


nir.write(path("lif.nir"), lif_graph(np.float64))
nir.write(path("lif_f32.nir"), lif_graph(np.float32))
nir.write(path("legacy_lif.nir"), lif_graph(np.float64))
legacy("legacy_lif.nir", "0.2.0", rename={"affine": "0", "lif": "1"})
nir.write(path("legacy_rnn_dotted.nir"), rnn_dotted())
legacy("legacy_rnn_dotted.nir", "0.2.0", dtype=np.float32)
nir.write(path("rnn_subgraph.nir"), rnn_subgraph())
nir.write(path("cnn.nir"), cnn())
nir.write(path("zoo.nir"), zoo())
nir.write(path("cycle.nir"), cycle())

# Each file must read back with the reference reader.
for name in ["lif.nir", "lif_f32.nir", "legacy_lif.nir", "legacy_rnn_dotted.nir", "rnn_subgraph.nir", "cnn.nir", "zoo.nir", "cycle.nir"]:
    g = nir.read(path(name), type_check=False)
    print(name, nir.serialization.read_version(path(name)), len(g.nodes), "nodes,", len(g.edges), "edges")

# Hostile: a group that contains itself (a hard-link cycle) in HDF5's newer link format. h5py
# reads it lazily and never notices; the HDF5 library the importer uses recurses through it
# forever, which ReadFile's child process turns into an error.
with h5py.File(path("hostile_link_cycle.nir"), "w", libver="latest") as f:
    f.create_dataset("version", data=nir.version, dtype=h5py.string_dtype())
    g = f.create_group("node")
    g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
    nodes = g.create_group("nodes")
    nodes["loop"] = nodes
    g.create_dataset("edges", data=np.array([["loop", "loop"]], dtype=object), dtype=h5py.string_dtype())
print("hostile_link_cycle.nir written")
