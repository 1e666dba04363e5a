"""Grad-CAM maps of the 10,000 test images: ours batched vs pytorch-grad-cam batched.

Same models, target layer (``last_act``), inputs, batch size and targets (the predicted class)
for both; the maps at the layer's resolution must be identical (max |difference| printed; ours
then places LeNet-5's 10x10 map by the layer's geometry, pytorch-grad-cam resizes it) and the ratio is reference time / our time (>= 1.0 means
ours is no slower). Each side is timed ``--repeat`` times, alternating, and the best is kept.

    .venv/bin/python benchmarks/bench_gradcam.py [--batch-size 256] [--threads 1]
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from pytorch_grad_cam import GradCAM as RefGradCAM

from fmnist_lib.data import get_arrays
from fmnist_lib.saliency.gradcam import DISPLAY_NAMES, compute_cams
from fmnist_lib.training import build_model


def ours(model, X, batch_size):
    m = np.maximum(compute_cams(model, X, batch_size=batch_size).layer_maps, 0)
    low, high = m.min((1, 2), keepdims=True), m.max((1, 2), keepdims=True)
    return np.where(high > low, (m - low) / np.where(high > low, high - low, 1), 0)


def reference(model, X, batch_size):
    model = copy.deepcopy(model)
    with RefGradCAM(model, target_layers=[model.last_act]) as cam:
        size = model(X[:1]).shape and cam.activations_and_grads.activations[-1].shape[-2:]
        cam.get_target_width_height = lambda t: (size[1], size[0])  # stay at layer resolution
        return np.concatenate([cam(input_tensor=X[i:i + batch_size], targets=None)
                               for i in range(0, len(X), batch_size)])


def best_time(fn, *args, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n", type=int, default=10_000, help="test images to explain")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X = torch.from_numpy(get_arrays()["test"][0][:args.n])
    print(f"{len(X)} test images, batch {args.batch_size}, {args.threads} thread(s), "
          f"torch {torch.__version__}, best of {args.repeat}; untrained weights (seed 0)")
    print(f"{'model':<12}{'ours s':>9}{'pytorch-grad-cam s':>20}{'ratio':>8}{'max |diff|':>12}")
    for name in ("simple", "lenet"):
        model = build_model(name, seed=0).eval()
        t_ours, t_ref, m_ours, m_ref = [], [], None, None
        for _ in range(args.repeat):  # alternate, so machine load hits both sides alike
            t, m_ours = best_time(ours, model, X, args.batch_size, repeat=1)
            t_ours.append(t)
            t, m_ref = best_time(reference, model, X, args.batch_size, repeat=1)
            t_ref.append(t)
        a, b = min(t_ours), min(t_ref)
        diff = float(np.abs(m_ours - m_ref).max())
        print(f"{DISPLAY_NAMES[name]:<12}{a:>9.2f}{b:>20.2f}{b / a:>8.2f}{diff:>12.1e}")


if __name__ == "__main__":
    main()
