"""Fused CPU kernels for the models' conv -> ReLU -> 2x2 max-pool blocks, used while training.

On one CPU thread most of a LeNet-5 step is not arithmetic: the ReLU and the max pool each read
and write the whole conv output, ``max_pool2d`` on 6 channels misses oneDNN's vectorised path
(about 2 ms of an 11 ms step), and the convolutions' backward computes the gradient at every
position of the conv output although the pool passes it at one position in four. This module
does the ReLU and the pool in one pass (keeping the argmax of each window) and the block's
backward from those positions only: the same mathematics in another order. Each block is done whole (padding, a direct
convolution with its accumulators in registers, ReLU and pool) for the shapes of the two
models; other shapes convolve with PyTorch (oneDNN) and pool in the kernels. Outputs and gradients differ from the modules' by float
reordering, as much as PyTorch's own float32 rounding (``tests/test_fused.py`` measures both
against float64).

The kernels are a small C++ file (below, ``_SOURCE``; GCC/Clang vector extensions, no
intrinsics, no PyTorch headers) compiled on first use with the machine's C++ compiler (``$CXX``,
else ``c++``, ``g++`` or ``clang++``) into a cache folder (``$FMNIST_KERNEL_CACHE``, else
``$XDG_CACHE_HOME/fmnist_lib`` or ``~/.cache/fmnist_lib``), about a second, then loaded with
``ctypes``. They are checked against PyTorch on a small input when loaded. Where no compiler
is found, the build fails or ``FMNIST_KERNELS=pytorch`` is set, training runs PyTorch's own
kernels (:func:`status` says which and why). Results on disk are keyed by the choice
(``TrainConfig.kernels``), so the two never mix.

Used only where it computes exactly what the modules compute: a model in training mode with
autograd on, float32 on the CPU, blocks of a stride-1 convolution (3x3 or 5x5, one or six
input channels), ``nn.ReLU`` and ``nn.MaxPool2d(2)``, and no hooks on the model (Grad-CAM's
hooks and every evaluation see the modules). CUDA runs PyTorch's (cuDNN) kernels.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError

__all__ = ["KERNELS", "backend", "status", "check_kernels", "use_kernels", "select_kernels", "applies",
           "conv_relu_pool"]

KERNELS = ("auto", "fused", "pytorch")  # TrainConfig.kernels; "auto": fused where it builds
SLACK = 64  # floats past the end of the buffers the kernels read or add to in whole vectors
_FLAGS = (("-O3", "-march=native"), ("-O3",))  # the first set that compiles

_SOURCE = r"""
// Fused ReLU + 2x2 max pool (forward) and the backward of conv -> ReLU -> 2x2 max pool:
// float32, one thread, plain C++ with GCC/Clang vector extensions (no intrinsics).
#include <cstdint>
#include <cstring>

typedef float v4 __attribute__((vector_size(16), aligned(4)));
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t i16 __attribute__((vector_size(64), aligned(4)));

// 16 windows at once, their four values in scan order a, b (top row), e, d (bottom row):
// max_pool2d's rule (the first maximum wins, NaN propagates), then ReLU; arg is the argmax
// dy*2+dx, or 255 where the max is <= 0 (no gradient passes: ReLU's zero).
static inline void pool16(v16 a, v16 b, v16 e, v16 d, v16& out, i16& arg) {
    v16 m = a;
    i16 i = i16{};
    i16 t = (b > m) | (b != b); m = t ? b : m; i = t ? 1 : i;
    t = (e > m) | (e != e); m = t ? e : m; i = t ? 2 : i;
    t = (d > m) | (d != d); m = t ? d : m; i = t ? 3 : i;
    const i16 on = (m > 0.0f) | (m != m);
    out = on ? m : v16{};
    arg = on ? i : 255;
}

// ReLU of each 2x2 window's max over one pair of rows (r0, r1: W floats each), 16 windows at a
// time (pool16).
static void pool_rows(const float* r0, const float* r1, int W, float* o, uint8_t* ix,
                      float* o2, long o2_step) {
    const int Q = W / 2;
    for (int q0 = 0; q0 < Q; q0 += 16) {
        const int nq = Q - q0 < 16 ? Q - q0 : 16;
        float b0[32] = {}, b1[32] = {};
        std::memcpy(b0, r0 + 2 * q0, sizeof(float) * 2 * nq);
        std::memcpy(b1, r1 + 2 * q0, sizeof(float) * 2 * nq);
        const v16 l0 = *(const v16*)b0, h0 = *(const v16*)(b0 + 16);
        const v16 l1 = *(const v16*)b1, h1 = *(const v16*)(b1 + 16);
        const v16 a = __builtin_shufflevector(l0, h0, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const v16 b = __builtin_shufflevector(l0, h0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        const v16 e = __builtin_shufflevector(l1, h1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const v16 d = __builtin_shufflevector(l1, h1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        v16 out;
        i16 arg;
        pool16(a, b, e, d, out, arg);
        for (int l = 0; l < nq; ++l) {
            o[q0 + l] = out[l];
            ix[q0 + l] = (uint8_t)arg[l];
            if (o2) o2[(q0 + l) * o2_step] = out[l];
        }
    }
}

// z: conv output (B, C, H, W), contiguous; out: (B, C, H/2, W/2) contiguous; out2 (or null):
// the same values NHWC (B, H/2, W/2, C) contiguous; idx: (B, C, P, Q) contiguous uint8.
extern "C" void relu_pool_fwd(const float* z, float* out, float* out2, uint8_t* idx,
                              int B, int C, int H, int W) {
    const int P = H / 2, Q = W / 2;
    for (int n = 0; n < B; ++n)
        for (int c = 0; c < C; ++c) {
            const long plane = (long)n * C + c;
            for (int p = 0; p < P; ++p) {
                const float* r0 = z + (plane * H + 2 * p) * W;
                float* o2 = out2 ? out2 + (((long)n * P + p) * Q) * C + c : nullptr;
                pool_rows(r0, r0 + W, W, out + (plane * P + p) * Q, idx + (plane * P + p) * Q, o2, C);
            }
        }
}

template <int N> struct Vec;
template <> struct Vec<4> { typedef v4 T; };
template <> struct Vec<8> { typedef v8 T; };
template <> struct Vec<16> { typedef v16 T; };

// Gradients of conv -> ReLU -> pool. g: (B, C, P, Q) with strides gs[4]; xp: the conv's input,
// NHWC (B, Hp, Wp, CIN) contiguous, readable VW floats past its end; w: (C, K, K, CIN)
// contiguous. gw (C, K, K, CIN) and gb (C) are overwritten; gxp (NHWC like xp, or null) is
// added to and must have VW floats of slack past its end.
template <int K, int CIN, int VW>
static void crp_bwd_t(const float* g, const long* gs, const uint8_t* idx, const float* xp,
                      const float* w, float* gw, float* gb, float* gxp,
                      int B, int C, int Hp, int Wp, int P, int Q) {
    typedef typename Vec<VW>::T V;
    constexpr int R = K * CIN, NV = (R + VW - 1) / VW;
    const long row = (long)Wp * CIN, img = (long)Hp * row;
    for (int c = 0; c < C; ++c) {
        V acc[K][NV];
        for (int ky = 0; ky < K; ++ky) for (int v = 0; v < NV; ++v) acc[ky][v] = V{};
        float bsum = 0.0f;
        for (int n = 0; n < B; ++n) {
            const uint8_t* ip = idx + ((long)n * C + c) * P * Q;
            const float* gp = g + n * gs[0] + c * gs[1];
            const float* xn = xp + n * img;
            for (int p = 0; p < P; ++p)
                for (int q = 0; q < Q; ++q) {
                    const uint8_t i = ip[p * Q + q];
                    const float gv = i < 4 ? gp[p * gs[2] + q * gs[3]] : 0.0f;
                    bsum += gv;
                    const float* src = xn + (2 * p + ((i >> 1) & 1)) * row + (2 * q + (i & 1)) * CIN;
                    for (int ky = 0; ky < K; ++ky)
                        for (int v = 0; v < NV; ++v)
                            acc[ky][v] += gv * *(const V*)(src + ky * row + v * VW);
                }
        }
        for (int ky = 0; ky < K; ++ky)
            for (int j = 0; j < R; ++j) gw[((long)c * K + ky) * R + j] = acc[ky][j / VW][j % VW];
        gb[c] = bsum;
    }
    if (!gxp) return;
    for (int n = 0; n < B; ++n)
        for (int c = 0; c < C; ++c) {
            V wr[K][NV];  // the weights of channel c, zero past R
            for (int ky = 0; ky < K; ++ky)
                for (int v = 0; v < NV; ++v) {
                    V t = V{};
                    for (int l = 0; l < VW && v * VW + l < R; ++l) t[l] = w[((long)c * K + ky) * R + v * VW + l];
                    wr[ky][v] = t;
                }
            const uint8_t* ip = idx + ((long)n * C + c) * P * Q;
            const float* gp = g + n * gs[0] + c * gs[1];
            float* gn = gxp + n * img;
            for (int p = 0; p < P; ++p)
                for (int q = 0; q < Q; ++q) {
                    const uint8_t i = ip[p * Q + q];
                    if (i >= 4) continue;
                    const float gv = gp[p * gs[2] + q * gs[3]];
                    float* dst = gn + (2 * p + (i >> 1)) * row + (2 * q + (i & 1)) * CIN;
                    for (int ky = 0; ky < K; ++ky)
                        for (int v = 0; v < NV; ++v) {
                            V* d = (V*)(dst + ky * row + v * VW);
                            *d += gv * wr[ky][v];
                        }
                }
        }
}

extern "C" int crp_bwd(const float* g, const long* gs, const uint8_t* idx, const float* xp,
                       const float* w, float* gw, float* gb, float* gxp,
                       int B, int C, int Cin, int K, int Hp, int Wp, int P, int Q) {
#define CASE(k, cin, vw) if (K == k && Cin == cin) { crp_bwd_t<k, cin, vw>(g, gs, idx, xp, w, gw, gb, gxp, B, C, Hp, Wp, P, Q); return 0; }
    CASE(5, 1, 8) CASE(5, 6, 16) CASE(3, 1, 4)
#undef CASE
    return 1;  // not compiled for this shape: the caller falls back to PyTorch
}

// The whole block for one input channel: pads x (B, 1, H, W) contiguous by `pad` with
// `pad_value` into xp (B, Hp, Wp; the caller zeroes SLACK floats past its end, which the
// vector loads below may read), convolves with w (C, K, K) and b (C), 32 output columns at a
// time with the accumulators in registers, and pools each pair of output rows as pool_rows.
template <int K, int CG>
static void conv1_fwd_t(const float* x, float* xp, const float* w, const float* bias, float* out,
                        float* out2, uint8_t* idx, int B, int C, int H, int W, int pad, float pad_value) {
    const int Hp = H + 2 * pad, Wp = W + 2 * pad, Ho = Hp - K + 1, Wo = Wp - K + 1;
    const int P = Ho / 2, Q = Wo / 2;
    for (int n = 0; n < B; ++n) {
        float* xn = xp + (long)n * Hp * Wp;
        for (int r = 0; r < Hp; ++r)
            for (int s = 0; s < Wp; ++s) {
                const int i = r - pad, j = s - pad;
                xn[r * Wp + s] = (i >= 0 && i < H && j >= 0 && j < W) ? x[((long)n * H + i) * W + j] : pad_value;
            }
        for (int p = 0; p < P; ++p)
            for (int c0 = 0; c0 < C; c0 += CG)
                for (int x0 = 0; x0 < Wo; x0 += 32) {
                    v16 acc[CG][2][2];
                    for (int c = 0; c < CG; ++c) {
                        const v16 bv = v16{} + bias[c0 + c];
                        acc[c][0][0] = acc[c][0][1] = acc[c][1][0] = acc[c][1][1] = bv;
                    }
                    for (int ky = 0; ky < K; ++ky)
                        for (int kx = 0; kx < K; ++kx) {
                            const float* s0 = xn + (2 * p + ky) * Wp + x0 + kx;
                            const v16 a0 = *(const v16*)s0, b0 = *(const v16*)(s0 + 16);
                            const v16 a1 = *(const v16*)(s0 + Wp), b1 = *(const v16*)(s0 + Wp + 16);
                            for (int c = 0; c < CG; ++c) {
                                const float wv = w[((c0 + c) * K + ky) * K + kx];
                                acc[c][0][0] += wv * a0; acc[c][0][1] += wv * b0;
                                acc[c][1][0] += wv * a1; acc[c][1][1] += wv * b1;
                            }
                        }
                    const int nx = Wo - x0 < 32 ? Wo - x0 : 32;
                    for (int c = 0; c < CG; ++c) {
                        float r0[32], r1[32];
                        *(v16*)r0 = acc[c][0][0]; *(v16*)(r0 + 16) = acc[c][0][1];
                        *(v16*)r1 = acc[c][1][0]; *(v16*)(r1 + 16) = acc[c][1][1];
                        const long plane = (long)n * C + c0 + c;
                        const long at = (plane * P + p) * Q + x0 / 2;
                        float* o2 = out2 ? out2 + (((long)n * P + p) * Q + x0 / 2) * C + c0 + c : nullptr;
                        pool_rows(r0, r1, nx, out + at, idx + at, o2, C);
                    }
                }
    }
}

extern "C" int crp1_fwd(const float* x, float* xp, const float* w, const float* bias, float* out,
                        float* out2, uint8_t* idx, int B, int C, int H, int W, int K, int pad,
                        float pad_value) {
#define CASE(k, cg) if (K == k && C % cg == 0) { conv1_fwd_t<k, cg>(x, xp, w, bias, out, out2, idx, B, C, H, W, pad, pad_value); return 0; }
    CASE(5, 6) CASE(5, 4) CASE(5, 1) CASE(3, 6) CASE(3, 4) CASE(3, 1)
#undef CASE
    return 1;
}

// A block on several input channels, without padding: x NHWC (B, H, W, CIN) contiguous (as the
// previous block's want_nhwc copy, with slack), w (K, K, CIN, C) contiguous with C a multiple of
// 16, b (C). The output pixels of two rows, 8 columns at a time, accumulate 16 channels each
// in registers; each 2x2 window is then pooled by pool16, 16 channels at once.
template <int K, int CIN>
static void convn_fwd_t(const float* x, const float* w, const float* bias, float* out, uint8_t* idx,
                        int B, int C, int H, int W) {
    const int Ho = H - K + 1, Wo = W - K + 1, P = Ho / 2, Q = Wo / 2;
    for (int n = 0; n < B; ++n)
        for (int p = 0; p < P; ++p)
            for (int c0 = 0; c0 < C; c0 += 16)
                for (int x0 = 0; x0 < 2 * Q; x0 += 8) {
                    const int nx = 2 * Q - x0 < 8 ? 2 * Q - x0 : 8;  // even: whole windows only
                    const v16 bv = *(const v16*)(bias + c0);
                    v16 acc[2][8];
                    for (int r = 0; r < 2; ++r) for (int j = 0; j < 8; ++j) acc[r][j] = bv;
                    for (int ky = 0; ky < K; ++ky)
                        for (int kx = 0; kx < K; ++kx) {
                            const float* s0 = x + (((long)n * H + 2 * p + ky) * W + x0 + kx) * CIN;
                            const float* s1 = s0 + (long)W * CIN;
                            for (int ci = 0; ci < CIN; ++ci) {
                                const v16 wv = *(const v16*)(w + ((ky * K + kx) * CIN + ci) * C + c0);
                                for (int j = 0; j < 8; ++j) {
                                    acc[0][j] += wv * s0[j * CIN + ci];
                                    acc[1][j] += wv * s1[j * CIN + ci];
                                }
                            }
                        }
                    for (int j = 0; j < nx; j += 2) {
                        const v16 a = acc[0][j], b = acc[0][j + 1], e = acc[1][j], d = acc[1][j + 1];
                        v16 o;
                        i16 arg;
                        pool16(a, b, e, d, o, arg);
                        const int q = (x0 + j) / 2;
                        for (int l = 0; l < 16; ++l) {
                            const long at = (((long)n * C + c0 + l) * P + p) * Q + q;
                            out[at] = o[l];
                            idx[at] = (uint8_t)arg[l];
                        }
                    }
                }
}

extern "C" int crpn_fwd(const float* x, const float* w, const float* bias, float* out, uint8_t* idx,
                        int B, int C, int Cin, int H, int W, int K) {
    if (C % 16) return 1;
    if (K == 5 && Cin == 6) { convn_fwd_t<5, 6>(x, w, bias, out, idx, B, C, H, W); return 0; }
    return 1;
}

extern "C" int crp_supports(int K, int Cin) {
    return (K == 5 && Cin == 1) || (K == 5 && Cin == 6) || (K == 3 && Cin == 1);
}

extern "C" int crp_abi(void) { return 1; }
"""


def _cache_dir() -> Path:
    if os.environ.get("FMNIST_KERNEL_CACHE"):
        return Path(os.environ["FMNIST_KERNEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist_lib"


def _compiler() -> str | None:
    if os.environ.get("CXX"):
        return shutil.which(os.environ["CXX"])
    return next((shutil.which(c) for c in ("c++", "g++", "clang++") if shutil.which(c)), None)


def _cpu_identity() -> str:
    """What ``-march=native`` compiles for: a library built on one CPU is not loaded on another."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def _version(cxx: str) -> str:
    return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout


def _build(cxx: str) -> Path:
    """Compile ``_SOURCE`` into the cache (once per source, compiler and CPU); its path."""
    version = _version(cxx)
    digest = hashlib.sha256("\0".join([_SOURCE, cxx, version, _cpu_identity(),
                                       platform.machine()]).encode()).hexdigest()[:16]
    out = _cache_dir() / f"fused-{digest}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        src = Path(tmp) / "fused.cpp"
        src.write_text(_SOURCE)
        errors = []
        for flags in _FLAGS:
            lib = Path(tmp) / "fused.so"
            done = subprocess.run([cxx, *flags, "-std=c++17", "-shared", "-fPIC", "-o", str(lib), str(src)],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode == 0:
                os.replace(lib, out)  # atomic: another process may be building the same file
                return out
            errors.append(f"{cxx} {' '.join(flags)}: {(done.stderr.strip().splitlines() or ['?'])[0]}")
        raise RuntimeError("; ".join(errors))


_P, _I = ctypes.c_void_p, ctypes.c_int


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str]:
    """(the built and loaded kernels or None, why not)."""
    choice = os.environ.get("FMNIST_KERNELS", "auto")
    if choice not in KERNELS:
        raise ConfigError(f"FMNIST_KERNELS={choice}", f"not one of {', '.join(KERNELS)}",
                          "Unset it (fused kernels where they build) or set it to pytorch.")
    if choice == "pytorch":
        return None, "PyTorch's kernels (FMNIST_KERNELS=pytorch)"
    cxx = _compiler()
    if cxx is None:
        return None, ("PyTorch's kernels: no C++ compiler found (install g++ or clang++, or point "
                      "CXX at one, for about 2x faster training on the CPU)")
    try:
        lib = ctypes.CDLL(str(_build(cxx)))
        lib.relu_pool_fwd.argtypes = [_P, _P, _P, _P, _I, _I, _I, _I]
        lib.crp_bwd.argtypes = [_P, _P, _P, _P, _P, _P, _P, _P] + [_I] * 8
        lib.crp1_fwd.argtypes = [_P, _P, _P, _P, _P, _P, _P] + [_I] * 6 + [ctypes.c_float]
        lib.crpn_fwd.argtypes = [_P, _P, _P, _P, _P] + [_I] * 6
        lib.crp_bwd.restype = lib.crp1_fwd.restype = lib.crpn_fwd.restype = lib.crp_supports.restype = lib.crp_abi.restype = _I
        lib.crp_supports.argtypes = [_I, _I]
        if lib.crp_abi() != 1:
            raise RuntimeError("the cached library is of another version")
    except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as e:
        return None, f"PyTorch's kernels: the fused kernels did not build or load ({e})"
    numbers = re.findall(r"\d+\.\d+(?:\.\d+)?", (_version(cxx).splitlines() or [""])[0])
    return lib, f"fused CPU kernels, built by {Path(cxx).name} {numbers[-1] if numbers else ''}".rstrip()


@functools.cache
def _library() -> tuple[ctypes.CDLL | None, str]:
    """(the loaded kernels, checked against PyTorch, or None; a sentence saying which kernels
    train and why)."""
    lib, why = _load()
    if lib is not None:
        with torch.enable_grad():
            problem = _self_check()
        if problem:
            return None, f"PyTorch's kernels: the fused kernels disagree with PyTorch ({problem})"
    return lib, why


def backend() -> str:
    """``"fused"`` where the kernels built and loaded (and ``FMNIST_KERNELS`` allows), else ``"pytorch"``."""
    return "fused" if _library()[0] is not None else "pytorch"


def status() -> str:
    """Which kernels train on the CPU here, and why (one sentence)."""
    return _library()[1]


def check_kernels(kernels: str) -> str:
    """``kernels`` resolved for training here: ``"auto"`` -> :func:`backend`.

    Raises :class:`~fmnist_lib.errors.ConfigError` for an unknown value, or for ``"fused"``
    where the kernels are not available (a run keyed for them must not train with others).
    """
    if kernels not in KERNELS:
        raise ConfigError(f"kernels={kernels!r}", f"not one of {', '.join(KERNELS)}",
                          "Use 'auto' (fused where they build), 'fused' or 'pytorch'.")
    if kernels == "fused" and backend() != "fused":
        raise ConfigError("kernels='fused'", status(),
                          "Train with kernels='pytorch' (its results are keyed apart), or install "
                          "a C++ compiler where this runs.")
    return backend() if kernels == "auto" else kernels


_state = threading.local()  # use_kernels: this thread, within a block
_selected: list[str] = []   # select_kernels: the process (a search's worker)


@contextlib.contextmanager
def use_kernels(kernels: str):
    """Within the block (this thread), train with ``kernels`` (see :func:`check_kernels`)."""
    resolved = check_kernels(kernels)
    previous = getattr(_state, "kernels", None)
    _state.kernels = resolved
    try:
        yield resolved
    finally:
        _state.kernels = previous


def select_kernels(kernels: str) -> str:
    """Train with ``kernels`` in this process from now on, outside :func:`use_kernels` blocks
    (as ``torch.set_num_threads`` is process-wide); the resolved choice."""
    resolved = check_kernels(kernels)
    _selected[:] = [resolved]
    return resolved


def _enabled() -> bool:
    chosen = getattr(_state, "kernels", None) or (_selected[0] if _selected else None)
    return (chosen or backend()) == "fused" and _library()[0] is not None


def _hooked(model: nn.Module) -> bool:
    from torch.nn.modules import module as m
    if m._global_forward_hooks or m._global_forward_pre_hooks or m._global_backward_hooks:
        return True
    return any(mod._forward_hooks or mod._forward_pre_hooks or mod._backward_hooks
               or getattr(mod, "_backward_pre_hooks", None) for mod in model.modules())


def _block_ok(conv: nn.Module, act: nn.Module, pool: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and type(act) is nn.ReLU and type(pool) is nn.MaxPool2d
            and conv.kernel_size[0] == conv.kernel_size[1] and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str) and conv.padding[0] == conv.padding[1]
            and conv.bias is not None
            and bool(_load()[0].crp_supports(conv.kernel_size[0], conv.in_channels))
            and pool.kernel_size in (2, (2, 2)) and pool.stride in (2, (2, 2))
            and pool.padding in (0, (0, 0)) and pool.dilation in (1, (1, 1)) and not pool.ceil_mode)


def applies(model: nn.Module, x: torch.Tensor, blocks: list[tuple[nn.Module, nn.Module, nn.Module]]) -> bool:
    """Whether ``model``'s ``blocks`` (conv, ReLU, pool) train through the fused kernels for ``x``."""
    if not (model.training and torch.is_grad_enabled() and x.device.type == "cpu"
            and x.dtype == torch.float32 and _enabled()):
        return False
    params = [p for conv, _, _ in blocks for p in (conv.weight, conv.bias)]
    return (all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params)
            and all(_block_ok(*b) for b in blocks) and not _hooked(model))


def _nhwc_padded(x: torch.Tensor, pad: int, value: float) -> torch.Tensor:
    """``x`` (B, C, H, W) padded by ``pad`` with ``value``, NHWC, in a flat buffer with slack."""
    B, C, H, W = x.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    buf = torch.empty(B * Hp * Wp * C + SLACK)
    buf[B * Hp * Wp * C:] = 0.0
    view = buf[:B * Hp * Wp * C].view(B, Hp, Wp, C)
    if pad:
        view.fill_(value)
    view[:, pad:pad + H, pad:pad + W, :] = x.permute(0, 2, 3, 1)
    return buf


def _strides(t: torch.Tensor) -> torch.Tensor:
    return torch.tensor(t.stride(), dtype=torch.long)


class _ConvReluPool(torch.autograd.Function):
    """max_pool2d(relu(conv2d(pad(x), weight, bias)), 2) and its backward, through the kernels."""

    @staticmethod
    def forward(ctx, x, weight, bias, x_nhwc, pad, pad_value, want_nhwc):
        lib = _load()[0]
        B, Cin, H, W = x.shape
        C, K = weight.shape[0], weight.shape[2]
        Hp, Wp = H + 2 * pad, W + 2 * pad
        P, Q = (Hp - K + 1) // 2, (Wp - K + 1) // 2
        out = torch.empty(B, C, P, Q)
        out2 = torch.zeros(B * P * Q * C + SLACK) if want_nhwc else torch.empty(0)
        idx = torch.empty(B, C, P, Q, dtype=torch.uint8)
        o2 = out2.data_ptr() if want_nhwc else None
        if Cin == 1:  # the whole block in one pass: pad, conv, ReLU, pool
            x_nhwc = torch.empty(B * Hp * Wp + SLACK)
            x_nhwc[B * Hp * Wp:] = 0.0
            x, w = x.detach().contiguous(), weight.detach().contiguous()
            rc = lib.crp1_fwd(x.data_ptr(), x_nhwc.data_ptr(), w.data_ptr(), bias.detach().contiguous().data_ptr(),
                              out.data_ptr(), o2, idx.data_ptr(), B, C, H, W, K, pad, pad_value)
            if rc:
                raise RuntimeError(f"fused kernels: no forward for a {K}x{K} conv on one channel")
        else:
            if x_nhwc is None or pad:
                x_nhwc = _nhwc_padded(x, pad, pad_value)
            w = weight.detach().permute(2, 3, 1, 0).contiguous()  # (K, K, Cin, C)
            b = bias.detach().contiguous()
            if want_nhwc or lib.crpn_fwd(x_nhwc.data_ptr(), w.data_ptr(), b.data_ptr(), out.data_ptr(),
                                         idx.data_ptr(), B, C, Cin, Hp, Wp, K):
                # no direct kernel for this shape: PyTorch convolves, the kernels pool
                xin = F.pad(x, (pad,) * 4, value=pad_value) if pad else x.contiguous()
                z = F.conv2d(xin, weight.contiguous(), bias).contiguous()  # (B, C, Hp-K+1, Wp-K+1)
                lib.relu_pool_fwd(z.data_ptr(), out.data_ptr(), o2, idx.data_ptr(), B, C, *z.shape[2:])
        ctx.save_for_backward(x_nhwc, weight, idx)
        ctx.dims = (B, Cin, H, W, pad)
        ctx.mark_non_differentiable(out2)
        return out, out2

    @staticmethod
    def backward(ctx, g, _g_nhwc):
        lib = _load()[0]
        x_nhwc, weight, idx = ctx.saved_tensors
        B, Cin, H, W, pad = ctx.dims
        C, K = weight.shape[0], weight.shape[2]
        Hp, Wp = H + 2 * pad, W + 2 * pad
        P, Q = idx.shape[2:]
        w = weight.detach().permute(0, 2, 3, 1).contiguous()  # (C, K, K, Cin)
        gw = torch.empty(C, K, K, Cin)
        gb = torch.empty(C)
        need_x = ctx.needs_input_grad[0]
        gxp = torch.zeros(B * Hp * Wp * Cin + SLACK) if need_x else None
        gs = _strides(g)
        rc = lib.crp_bwd(g.data_ptr(), gs.data_ptr(), idx.data_ptr(), x_nhwc.data_ptr(), w.data_ptr(),
                         gw.data_ptr(), gb.data_ptr(), gxp.data_ptr() if need_x else None,
                         B, C, Cin, K, Hp, Wp, P, Q)
        if rc:
            raise RuntimeError(f"fused kernels: no backward for a {K}x{K} conv on {Cin} channels")
        gx = None
        if need_x:
            gx = gxp[:B * Hp * Wp * Cin].view(B, Hp, Wp, Cin)[:, pad:pad + H, pad:pad + W, :].permute(0, 3, 1, 2)
        return gx, gw.permute(0, 3, 1, 2), gb, None, None, None, None


def conv_relu_pool(x: torch.Tensor, conv: nn.Conv2d, x_nhwc: torch.Tensor | None = None,
                   want_nhwc: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``max_pool2d(relu(conv(x)), 2)`` through the kernels (check :func:`applies` first).

    ``conv`` pads with its ``pad_value`` (``models.BackgroundPadConv2d``) or 0. ``x_nhwc``: ``x``
    in NHWC in a flat buffer with slack, as a previous block returns it with ``want_nhwc``
    (for a conv without padding; else it is built here). Returns the pooled output
    (B, C, H', W'), contiguous, and that NHWC buffer (empty unless ``want_nhwc``).
    """
    pad = conv.padding[0]
    return _ConvReluPool.apply(x, conv.weight, conv.bias, x_nhwc, pad,
                               float(getattr(conv, "pad_value", 0.0)), want_nhwc)


def _self_check() -> str:
    """Compare the kernels with PyTorch's modules on a small random input; '' when they agree."""
    gen = torch.Generator().manual_seed(0)
    for cin, cout, k, pad in ((1, 6, 5, 2), (6, 16, 5, 0), (1, 8, 3, 1)):  # the models' blocks
        conv = nn.Conv2d(cin, cout, k, padding=pad)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
            conv.bias.copy_(torch.randn(cout, generator=gen))
        x = torch.randn(3, cin, 12, 12, generator=gen, requires_grad=cin > 1)
        ref = F.max_pool2d(F.relu(conv(x)), 2)
        g = torch.randn(ref.shape, generator=gen)
        ref_grads = torch.autograd.grad(ref, [conv.weight, conv.bias] + ([x] if cin > 1 else []), g)
        out, _ = _ConvReluPool.apply(x, conv.weight, conv.bias, None, pad, 0.0, False)
        grads = torch.autograd.grad(out, [conv.weight, conv.bias] + ([x] if cin > 1 else []), g)
        if not torch.allclose(out, ref, rtol=1e-5, atol=1e-5):
            return f"forward of a {k}x{k} conv on {cin} channel(s)"
        for a, b in zip(grads, ref_grads):
            if not torch.allclose(a, b, rtol=1e-4, atol=1e-4):
                return f"backward of a {k}x{k} conv on {cin} channel(s)"
    return ""
