#!/usr/bin/env python3
"""Development probe for the tensor-core attention kernels on a GPU host without Java: loads cubins compiled
elsewhere (build-bundle.sh carries them: flash_attention.cu for sm_90, flash_attention_sm90.cu for sm_90a), runs
their kernels on PyTorch tensors through the driver API (ctypes), checks them against a float32 PyTorch reference
(chunk against a cached prefix, bottom-right causal mask, GQA, NaN bits in the unfilled part of the cache) and
times the 8K chunks of a 64K prompt; with --sdpa also PyTorch's SDPA on the whole causal 64K. Prints one JSON line
per case.

Usage: attention_probe.py [--sdpa] CUBIN... VARIANT...
  VARIANT: wW_mM (flash_attention.cu: W warps of M 16-row m-tiles), wgmma, wgmma_vswap or wgmma_overlap
  (flash_attention_sm90.cu, head dim 128 only; _vswap exchanges the V descriptor's LBO and SBO, a diagnostic twin;
  _overlap runs the softmax under the previous tile's P·V).
Run one variant per process where a kernel may fault: a CUDA error poisons the process's context.
The Java backend's own parity runs in check.py; this is for iterating on the kernels quickly.
"""
import ctypes
import json
import math
import sys
import time

import torch

CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
BLOCK_N = 64


# flash_attention_sm90.cu's WG_BLOCK_M, WG_THREADS and WG_SHARED_BYTES (LaunchGeometry.WGMMA_*)
WGMMA_BLOCK_M = 128
WGMMA_THREADS = 256
WGMMA_SHARED_BYTES = 128 * 128 * 2 + 4 * 128 * 128 * 2 + 1024
WGMMA_OVERLAP_SHARED_BYTES = WGMMA_SHARED_BYTES + 128 * 128 * 2  # a third V tile


def geometry(variant, d):
    """(kernel name, query rows per block, threads per block, dynamic shared memory) of a variant at head dim d."""
    if variant.startswith("wgmma"):
        smem = WGMMA_OVERLAP_SHARED_BYTES if variant == "wgmma_overlap" else WGMMA_SHARED_BYTES
        return "flash_attention_wgmma_d%d%s" % (d, variant[len("wgmma"):]), WGMMA_BLOCK_M, WGMMA_THREADS, smem
    warps, mt = (int(x[1:]) for x in variant.split("_"))
    bm = warps * 16 * mt
    return "flash_attention_d%d_%s" % (d, variant), bm, warps * 32, (bm + 4 * BLOCK_N) * (d + 8) * 2


def main(argv):
    sdpa = "--sdpa" in argv
    argv = [a for a in argv if a != "--sdpa"]
    cubins = [a for a in argv if a.endswith(".cubin")]
    variants = [a for a in argv if not a.endswith(".cubin")] or ["w4_m1"]
    torch.zeros(1, device="cuda")  # creates and binds the primary context
    cu = ctypes.CDLL("libcuda.so.1")

    def chk(rc, what):
        if rc != 0:
            raise RuntimeError("%s failed: CUresult %d" % (what, rc))

    modules = []
    for path in cubins:
        mod = ctypes.c_void_p()
        with open(path, "rb") as f:
            chk(cu.cuModuleLoadData(ctypes.byref(mod), f.read()), "cuModuleLoadData " + path)
        modules.append(mod)
    functions = {}

    def find(name):
        """The kernel from whichever cubin defines it, or None."""
        if name not in functions:
            for mod in modules:
                f = ctypes.c_void_p()
                if cu.cuModuleGetFunction(ctypes.byref(f), mod, name.encode()) == 0:
                    functions[name] = f
                    break
            else:
                return None
        return functions[name]

    def launch(d, variant, q, kc, vc, out, rows, pos0, heads, kv_heads, capacity, q_stride, out_stride):
        name, bm, threads, smem = geometry(variant, d)
        f = find(name)
        if f is None:
            raise RuntimeError("no cubin defines " + name)
        chk(cu.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), "cuFuncSetAttribute")
        scale_log2 = (1.0 / math.sqrt(d)) * 1.4426950408889634
        args = [ctypes.c_void_p(q.data_ptr()), ctypes.c_void_p(kc.data_ptr()), ctypes.c_void_p(vc.data_ptr()),
                ctypes.c_void_p(out.data_ptr()), ctypes.c_int(rows), ctypes.c_int(pos0), ctypes.c_int(heads),
                ctypes.c_int(kv_heads), ctypes.c_int(capacity), ctypes.c_int(q_stride), ctypes.c_int(out_stride),
                ctypes.c_float(scale_log2)]
        params = (ctypes.c_void_p * len(args))(*[ctypes.cast(ctypes.pointer(a), ctypes.c_void_p) for a in args])
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        chk(cu.cuLaunchKernel(f, (rows + bm - 1) // bm, heads, 1, threads, 1, 1, smem, stream, params, None),
            "cuLaunchKernel")

    def make(rows, pos0, heads, kv_heads, d, capacity, seed):
        g = torch.Generator(device="cuda").manual_seed(seed)
        q_dim, kv_dim = heads * d, kv_heads * d
        q_stride = q_dim + 2 * kv_dim
        qkv = torch.randn(rows, q_stride, device="cuda", generator=g).to(torch.bfloat16)
        kc = torch.full((kv_heads, capacity, d), float("nan"), device="cuda", dtype=torch.bfloat16)
        vc = torch.full((kv_heads, capacity, d), float("nan"), device="cuda", dtype=torch.bfloat16)
        kv_len = pos0 + rows
        kc[:, :kv_len] = torch.randn(kv_heads, kv_len, d, device="cuda", generator=g).to(torch.bfloat16)
        vc[:, :kv_len] = torch.randn(kv_heads, kv_len, d, device="cuda", generator=g).to(torch.bfloat16)
        return qkv, kc, vc, q_stride

    def reference(qkv, kc, vc, rows, pos0, heads, kv_heads, d):
        kv_len = pos0 + rows
        q = qkv[:, :heads * d].float().view(rows, heads, d).permute(1, 0, 2)
        k = kc[:, :kv_len].float().repeat_interleave(heads // kv_heads, 0)
        v = vc[:, :kv_len].float().repeat_interleave(heads // kv_heads, 0)
        s = q @ k.transpose(1, 2) / math.sqrt(d)
        mask = torch.arange(kv_len, device="cuda")[None, :] > (pos0 + torch.arange(rows, device="cuda"))[:, None]
        s = s.masked_fill(mask, float("-inf"))
        return (torch.softmax(s, -1) @ v).permute(1, 0, 2).reshape(rows, heads * d)

    ok_all = True
    # (rows, pos0, heads, kv heads, head dim): partial blocks and tiles, prefixes off the tile grid, GQA 1, 2, 4
    cases = [(64, 0, 8, 2, 128), (128, 256, 8, 2, 128), (300, 1000, 32, 8, 128), (1000, 3000, 32, 8, 128),
             (5, 7, 4, 4, 128), (77, 50, 4, 2, 128), (200, 0, 4, 1, 128), (129, 127, 8, 8, 128),
             (77, 50, 4, 2, 32), (200, 0, 4, 1, 16), (150, 40, 6, 2, 48), (256, 512, 12, 4, 64), (5, 7, 4, 4, 96)]
    # diagnostic: Q = 0 makes every score 0 and P uniform over the visible keys, so the output is the running
    # mean of V: it checks the P·V path alone (if it passes where the random cases fail, Q·Kᵀ is what is wrong)
    diagnostics = [("correctness_q_zero", (300, 1000, 8, 2, 128))]

    def run_case(kind, variant, rows, pos0, heads, kv_heads, d, q_zero):
        case = dict(kind=kind, variant=variant, rows=rows, pos0=pos0, heads=heads, kv_heads=kv_heads, head_dim=d)
        try:
            capacity = pos0 + rows + 100
            qkv, kc, vc, q_stride = make(rows, pos0, heads, kv_heads, d, capacity, rows * 7 + pos0)
            if q_zero:
                qkv[:, :heads * d] = 0
            out = torch.full((rows, heads * d), float("nan"), device="cuda", dtype=torch.bfloat16)
            launch(d, variant, qkv, kc, vc, out, rows, pos0, heads, kv_heads, capacity, q_stride, heads * d)
            torch.cuda.synchronize()
            ref = reference(qkv, kc, vc, rows, pos0, heads, kv_heads, d)
            got = out.float()
            finite = bool(torch.isfinite(got).all())
            rel = float((got - ref).norm() / ref.norm())
            case.update(finite=finite, rel_l2=rel, max_abs=float((got - ref).abs().max()), ok=finite and rel <= 1e-2)
        except Exception as e:
            case.update(ok=False, error="%s: %s" % (type(e).__name__, e))
        print(json.dumps(case), flush=True)
        return case["ok"]

    for variant in variants:
        ran = 0
        for kind, params in [("correctness", p) for p in cases] + diagnostics:
            if find(geometry(variant, params[4])[0]) is None:
                continue  # not instantiated for this head dim
            ran += 1
            ok_all &= run_case(kind, variant, *params, q_zero=kind.endswith("q_zero"))
        if ran == 0:
            ok_all = False
            print(json.dumps(dict(kind="correctness", variant=variant, ok=False,
                                  error="no cubin defines a kernel of this variant (%s)" % ", ".join(cubins))), flush=True)

    # 8b-shape attention of a 64K prompt in 8K chunks, against SDPA on the whole causal 64K (what HF runs)
    heads, kv_heads, d, total, chunk = 32, 8, 128, 65536, 8192
    capacity = total
    g = torch.Generator(device="cuda").manual_seed(1)
    kc = torch.randn(kv_heads, capacity, d, device="cuda", generator=g).to(torch.bfloat16)
    vc = torch.randn(kv_heads, capacity, d, device="cuda", generator=g).to(torch.bfloat16)
    q_stride = heads * d + 2 * kv_heads * d
    qkv = torch.randn(chunk, q_stride, device="cuda", generator=g).to(torch.bfloat16)
    out = torch.empty(chunk, heads * d, device="cuda", dtype=torch.bfloat16)

    def timed(fn, reps):
        fn()
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        return best

    causal_flops = 4.0 * d * heads * total * (total + 1) / 2
    for variant in variants:
        row = dict(kind="timing_64k_in_8k_chunks", variant=variant)
        try:
            def run_all():
                for pos0 in range(0, total, chunk):
                    launch(d, variant, qkv, kc, vc, out, chunk, pos0, heads, kv_heads, capacity, q_stride, heads * d)
            s = timed(run_all, 3)
            per = []
            for pos0 in (0, 28672, 57344):
                ts = timed(lambda: launch(d, variant, qkv, kc, vc, out, chunk, pos0, heads, kv_heads, capacity,
                                          q_stride, heads * d), 3)
                fl = 4.0 * d * heads * sum(pos0 + r + 1 for r in range(0, chunk, 1))
                per.append(dict(pos0=pos0, ms=ts * 1e3, tflops=fl / ts / 1e12))
            row.update(seconds=s, tflops=causal_flops / s / 1e12, chunks=per)
        except Exception as e:
            row.update(error="%s: %s" % (type(e).__name__, e))
        print(json.dumps(row), flush=True)
    if not sdpa:
        return 0 if ok_all else 1
    row = dict(kind="timing_sdpa_causal_64k")
    try:
        qf = torch.randn(1, heads, total, d, device="cuda", dtype=torch.bfloat16)
        kf = kc.unsqueeze(0)
        vf = vc.unsqueeze(0)
        import torch.nn.functional as F
        s = timed(lambda: F.scaled_dot_product_attention(qf, kf, vf, is_causal=True, enable_gqa=True), 3)
        row.update(seconds=s, tflops=causal_flops / s / 1e12)
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel
            for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(be):
                        s2 = timed(lambda: F.scaled_dot_product_attention(qf, kf, vf, is_causal=True, enable_gqa=True), 3)
                    row[name + "_tflops"] = causal_flops / s2 / 1e12
                except Exception as e:
                    row[name + "_error"] = str(e)[:200]
        except ImportError:
            pass
    except Exception as e:
        row.update(error="%s: %s" % (type(e).__name__, e))
    print(json.dumps(row), flush=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
