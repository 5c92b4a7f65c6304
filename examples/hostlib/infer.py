#!/usr/bin/env python3
"""infer.py: the Python example of hostlib, the mirror of infer.c. It loads examples/pipeline
(the network and its readout), shows it lrctl pipeline's labelled test patterns — window w
shows class w mod 5: input neuron i fires with probability 0.5 per step when i mod 5 is the
class, 0.05 otherwise — as one request of K windows, and prints the readout's accuracy, the
same as `lrctl pipeline examples/pipeline/pipeline.yaml --windows K` prints.

    infer.py [--windows K] [--model PATH] [--gpu auto|cuda|cpu] [DEVICE...]
"""
import argparse

import numpy as np

import lrchip


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--model", default="examples/pipeline/pipeline.yaml")
    ap.add_argument("--gpu", default="auto")
    ap.add_argument("devices", nargs="*", help="device URIs (emu:, emu:unix:PATH, ...); none: every board, else emu:")
    a = ap.parse_args()

    with lrchip.Host(a.devices or None) as host, host.load("pipeline", a.model, gpu=a.gpu, max_windows=a.windows) as model:
        info = model.info
        shown = np.arange(a.windows) % info.scores  # the class window w shows
        rates = np.where(np.arange(info.inputs)[None, :] % info.scores == shown[:, None], 0.5, 0.05)
        r = model.infer(rates=rates)
        accuracy = float(np.mean(r.classes == shown))
        print(f"model        {info.name}: {info.inputs} inputs, {info.outputs} outputs, {info.scores} scores, "
              f"{info.window} steps a window, readout on {info.gpu}")
        print(f"run          {r.windows} windows as one request on {info.replicas} device(s); {lrchip.version()}")
        print(f"accuracy     {100 * accuracy:.1f}% (argmax = window mod {info.scores})")


if __name__ == "__main__":
    main()
