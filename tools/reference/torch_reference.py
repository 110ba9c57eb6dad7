#!/usr/bin/env python3
"""Independent float64 PyTorch reference for Hugging Face decoder-only LLMs.

Supported "architectures" (from config.json):
    LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Qwen3MoeForCausalLM

Block-scaled FP8 checkpoints (quantization_config.quant_method "fp8": float8_e4m3fn weights with a
float32 weight_scale_inv per [128, 128] block) are dequantised exactly to float64 at load.

This file deliberately shares no code with the Java engine.  It reads the
Hugging Face checkpoint directly (config.json + *.safetensors, optionally
sharded via model.safetensors.index.json), runs the full forward pass in
torch.float64 and writes golden logits / greedy tokens as JSON.

It needs only python3, numpy and torch (no transformers, no safetensors).

Usage:
    python3 torch_reference.py --model DIR --tokens 1,2,3 [--max-new-tokens K] [--out FILE.json]
    python3 torch_reference.py --model DIR --tokens-file ids.txt ...
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DT = torch.float64

SUPPORTED = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
             "Qwen3MoeForCausalLM")


def e4m3fn_table():
    """float8_e4m3fn (OCP FP8): 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN."""
    table = np.zeros(256, dtype=np.float64)
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        exp = (b >> 3) & 0xF
        mant = b & 0x7
        if exp == 0xF and mant == 0x7:
            table[b] = float("nan")
        elif exp == 0:
            table[b] = sign * (mant / 8.0) * 2.0 ** -6
        else:
            table[b] = sign * (1.0 + mant / 8.0) * 2.0 ** (exp - 7)
    return table


E4M3FN = e4m3fn_table()


def warn(msg):
    print("torch_reference: warning: " + msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# safetensors reading (hand-written; format: u64 LE header length, JSON header,
# raw little-endian tensor bytes; data_offsets are relative to the end of the
# header)
# ---------------------------------------------------------------------------

def read_safetensors(path):
    """Returns {name: numpy float32/float64 array} for one .safetensors file."""
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen).decode("utf-8"))
    base = 8 + hlen
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        buf = raw[base + begin: base + end]
        count = int(np.prod(shape)) if shape else 1
        itemsize = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1}.get(dtype)
        if itemsize is not None and end - begin != count * itemsize:
            raise ValueError("%s: tensor %s: %d bytes for shape %s %s" % (path, name, end - begin, shape, dtype))
        if dtype == "BF16":
            # bfloat16 = upper 16 bits of an IEEE float32: widen exactly.
            u16 = np.frombuffer(buf, dtype="<u2", count=count)
            arr = (u16.astype(np.uint32) << np.uint32(16)).view(np.float32)
        elif dtype == "F16":
            arr = np.frombuffer(buf, dtype="<f2", count=count).astype(np.float32)
        elif dtype == "F32":
            arr = np.frombuffer(buf, dtype="<f4", count=count).astype(np.float32)
        elif dtype == "F64":
            arr = np.frombuffer(buf, dtype="<f8", count=count).astype(np.float64)
        elif dtype == "F8_E4M3":
            arr = E4M3FN[np.frombuffer(buf, dtype=np.uint8, count=count)]
        else:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dtype))
        out[name] = arr.reshape(shape)
    return out


def load_checkpoint(model_dir):
    index_path = os.path.join(model_dir, "model.safetensors.index.json")
    single_path = os.path.join(model_dir, "model.safetensors")
    tensors = {}
    if os.path.exists(index_path):
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        shards = sorted(set(weight_map.values()))
        for shard in shards:
            part = read_safetensors(os.path.join(model_dir, shard))
            for name, arr in part.items():
                if weight_map.get(name) == shard:
                    tensors[name] = arr
        missing = [n for n in weight_map if n not in tensors]
        if missing:
            raise ValueError("index lists tensors not found in their shard: %s" % missing[:5])
    elif os.path.exists(single_path):
        tensors = read_safetensors(single_path)
    else:
        files = sorted(p for p in os.listdir(model_dir) if p.endswith(".safetensors"))
        if not files:
            raise FileNotFoundError("no .safetensors files in " + model_dir)
        for p in files:
            tensors.update(read_safetensors(os.path.join(model_dir, p)))
    return tensors


def dequantize_fp8(tensors, cfg):
    """Block-scaled FP8 (DeepSeek-V3 / Qwen3-FP8 style): W = fp8(W) * weight_scale_inv[i // bm, j // bn]."""
    q = cfg.get("quantization_config")
    if not q:
        return tensors
    if q.get("quant_method") != "fp8":
        raise ValueError("unsupported quantization_config.quant_method %r" % q.get("quant_method"))
    bm, bn = (int(v) for v in q.get("weight_block_size", [128, 128]))
    out = {}
    for name, arr in tensors.items():
        if name.endswith("_scale_inv"):
            continue
        scale_name = name + "_scale_inv"
        if scale_name in tensors:
            s = np.asarray(tensors[scale_name], dtype=np.float64)
            rows, cols = arr.shape
            want = ((rows + bm - 1) // bm, (cols + bn - 1) // bn)
            if tuple(s.shape) != want:
                raise ValueError("%s has shape %s, expected %s" % (scale_name, tuple(s.shape), want))
            full = np.repeat(np.repeat(s, bm, axis=0), bn, axis=1)[:rows, :cols]
            out[name] = np.asarray(arr, dtype=np.float64) * full
        else:
            out[name] = arr
    return out


# ---------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------

class Config(object):
    def __init__(self, cfg):
        archs = cfg.get("architectures") or []
        arch = None
        for a in archs:
            if a in SUPPORTED:
                arch = a
                break
        if arch is None:
            raise ValueError("unsupported architectures %r (supported: %s)" % (archs, ", ".join(SUPPORTED)))
        self.arch = arch
        self.hidden = int(cfg["hidden_size"])
        self.inter = int(cfg["intermediate_size"])
        self.layers = int(cfg["num_hidden_layers"])
        self.n_heads = int(cfg["num_attention_heads"])
        kv = cfg.get("num_key_value_heads")
        self.n_kv = int(kv) if kv is not None else self.n_heads
        hd = cfg.get("head_dim")
        self.head_dim = int(hd) if hd is not None else self.hidden // self.n_heads
        theta = cfg.get("rope_theta")
        self.theta = float(theta) if theta is not None else 10000.0
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.vocab = int(cfg["vocab_size"])
        self.tie = bool(cfg.get("tie_word_embeddings", False))
        self.rope_scaling = cfg.get("rope_scaling")
        self.sliding_window = cfg.get("sliding_window")
        self.use_sliding_window = cfg.get("use_sliding_window", arch == "MistralForCausalLM")
        if arch == "Qwen2ForCausalLM":
            # Qwen2 always has q/k/v biases and no o_proj bias.
            self.qkv_bias = True
            self.o_bias = False
        else:
            ab = bool(cfg.get("attention_bias", False))
            self.qkv_bias = ab
            self.o_bias = ab
        self.qk_norm = arch in ("Qwen3ForCausalLM", "Qwen3MoeForCausalLM")
        # Qwen3-MoE (transformers' Qwen3MoeDecoderLayer): layer i has the sparse block when
        # i not in mlp_only_layers and num_experts > 0 and (i + 1) % decoder_sparse_step == 0.
        self.moe = arch == "Qwen3MoeForCausalLM"
        if self.moe:
            self.n_experts = int(cfg["num_experts"])
            self.top_k = int(cfg["num_experts_per_tok"])
            self.moe_inter = int(cfg["moe_intermediate_size"])
            self.norm_topk_prob = bool(cfg.get("norm_topk_prob", False))
            self.sparse_step = int(cfg.get("decoder_sparse_step", 1))
            self.mlp_only = set(int(i) for i in (cfg.get("mlp_only_layers") or []))
        if self.n_heads % self.n_kv != 0:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.head_dim % 2 != 0:
            raise ValueError("head_dim must be even for RoPE")
        if cfg.get("mlp_bias"):
            warn("config has mlp_bias=true; MLP biases are ignored by this reference")
        act = cfg.get("hidden_act", "silu")
        if act not in ("silu", "swish"):
            raise ValueError("unsupported hidden_act %r" % act)


# ---------------------------------------------------------------------------
# math
# ---------------------------------------------------------------------------

def rope_inv_freq(cfg):
    """inv_freq[i] = 1 / theta^(2i/d), i = 0..d/2-1, with optional llama3 scaling."""
    d = cfg.head_dim
    exps = torch.arange(0, d, 2, dtype=DT) / d
    inv_freq = 1.0 / (cfg.theta ** exps)
    rs = cfg.rope_scaling
    if rs:
        rtype = rs.get("rope_type", rs.get("type"))
        if rtype in (None, "default"):
            pass
        elif rtype == "llama3":
            inv_freq = llama3_scale(inv_freq, float(rs["factor"]), float(rs["low_freq_factor"]),
                                    float(rs["high_freq_factor"]),
                                    float(rs["original_max_position_embeddings"]))
        else:
            raise ValueError("unsupported rope_scaling type %r" % rtype)
    return inv_freq


def llama3_scale(inv_freq, factor, low_freq_factor, high_freq_factor, old_context_len):
    """Same rule as transformers' _compute_llama3_parameters."""
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2.0 * math.pi / inv_freq
    # long wavelength (low frequency): divide by factor; short: keep
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # medium band: smooth interpolation between the two
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1.0 - smooth) * scaled / factor + smooth * scaled
    is_medium = (~(wavelen < high_freq_wavelen)) & (~(wavelen > low_freq_wavelen))
    return torch.where(is_medium, smoothed, scaled)


def rms_norm(x, w, eps):
    var = (x * x).mean(dim=-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    # x: [heads, S, d]; cos/sin: [S, d]
    return x * cos + rotate_half(x) * sin


class Model(object):
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.raw_config = json.load(f)
        self.cfg = Config(self.raw_config)
        self.tensors = dequantize_fp8(load_checkpoint(model_dir), self.raw_config)
        self.used = set()
        self.inv_freq = rope_inv_freq(self.cfg)
        self.moe_impl = "vectorised"

    def w(self, name, shape):
        if name not in self.tensors:
            raise KeyError("missing tensor " + name)
        arr = self.tensors[name]
        if tuple(arr.shape) != tuple(shape):
            raise ValueError("tensor %s has shape %s, expected %s" % (name, tuple(arr.shape), tuple(shape)))
        self.used.add(name)
        return torch.from_numpy(np.array(arr, dtype=np.float64))

    def is_sparse(self, i):
        c = self.cfg
        return c.moe and i not in c.mlp_only and c.n_experts > 0 and (i + 1) % c.sparse_step == 0

    def load(self):
        c = self.cfg
        H, I, V = c.hidden, c.inter, c.vocab
        qd, kvd = c.n_heads * c.head_dim, c.n_kv * c.head_dim
        self.embed = self.w("model.embed_tokens.weight", (V, H))
        self.blocks = []
        for i in range(c.layers):
            p = "model.layers.%d." % i
            b = {
                "ln1": self.w(p + "input_layernorm.weight", (H,)),
                "ln2": self.w(p + "post_attention_layernorm.weight", (H,)),
                "q": self.w(p + "self_attn.q_proj.weight", (qd, H)),
                "k": self.w(p + "self_attn.k_proj.weight", (kvd, H)),
                "v": self.w(p + "self_attn.v_proj.weight", (kvd, H)),
                "o": self.w(p + "self_attn.o_proj.weight", (H, qd)),
            }
            if self.is_sparse(i):
                E, MI = c.n_experts, c.moe_inter
                b["router"] = self.w(p + "mlp.gate.weight", (E, H))
                b["experts"] = [(self.w(p + "mlp.experts.%d.gate_proj.weight" % e, (MI, H)),
                                 self.w(p + "mlp.experts.%d.up_proj.weight" % e, (MI, H)),
                                 self.w(p + "mlp.experts.%d.down_proj.weight" % e, (H, MI))) for e in range(E)]
            else:
                b["gate"] = self.w(p + "mlp.gate_proj.weight", (I, H))
                b["up"] = self.w(p + "mlp.up_proj.weight", (I, H))
                b["down"] = self.w(p + "mlp.down_proj.weight", (H, I))
            if c.qkv_bias:
                b["qb"] = self.w(p + "self_attn.q_proj.bias", (qd,))
                b["kb"] = self.w(p + "self_attn.k_proj.bias", (kvd,))
                b["vb"] = self.w(p + "self_attn.v_proj.bias", (kvd,))
            if c.o_bias:
                b["ob"] = self.w(p + "self_attn.o_proj.bias", (H,))
            if c.qk_norm:
                b["qn"] = self.w(p + "self_attn.q_norm.weight", (c.head_dim,))
                b["kn"] = self.w(p + "self_attn.k_norm.weight", (c.head_dim,))
            self.blocks.append(b)
        self.norm = self.w("model.norm.weight", (H,))
        if c.tie:
            if "lm_head.weight" in self.tensors:
                warn("tie_word_embeddings=true but lm_head.weight present; using embed_tokens as HF does")
            self.lm_head = self.embed
        else:
            self.lm_head = self.w("lm_head.weight", (V, H))
        unused = [n for n in self.tensors if n not in self.used and not n.endswith("rotary_emb.inv_freq")]
        if unused:
            warn("%d checkpoint tensors unused, e.g. %s" % (len(unused), sorted(unused)[:4]))
        self.tensors = None  # free numpy copies
        return self

    def forward(self, ids):
        """ids: list of ints -> logits [S, vocab] float64 (positions 0..S-1)."""
        c = self.cfg
        S = len(ids)
        for t in ids:
            if not (0 <= t < c.vocab):
                raise ValueError("token id %d out of range [0, %d)" % (t, c.vocab))
        if c.use_sliding_window and c.sliding_window is not None and S > int(c.sliding_window):
            warn("sequence length %d exceeds sliding_window %s; this reference uses full causal attention"
                 % (S, c.sliding_window))
        nh, nkv, d = c.n_heads, c.n_kv, c.head_dim
        group = nh // nkv

        pos = torch.arange(S, dtype=DT)
        freqs = torch.outer(pos, self.inv_freq)          # [S, d/2]
        emb = torch.cat((freqs, freqs), dim=-1)           # [S, d]
        cos, sin = emb.cos(), emb.sin()
        mask = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)  # True = masked (future)
        scale = 1.0 / math.sqrt(d)

        x = self.embed[torch.tensor(ids, dtype=torch.long)]  # [S, H]
        for b in self.blocks:
            h = rms_norm(x, b["ln1"], c.eps)
            q = h @ b["q"].T
            k = h @ b["k"].T
            v = h @ b["v"].T
            if c.qkv_bias:
                q = q + b["qb"]
                k = k + b["kb"]
                v = v + b["vb"]
            q = q.view(S, nh, d).transpose(0, 1)    # [nh, S, d]
            k = k.view(S, nkv, d).transpose(0, 1)   # [nkv, S, d]
            v = v.view(S, nkv, d).transpose(0, 1)
            if c.qk_norm:
                q = rms_norm(q, b["qn"], c.eps)
                k = rms_norm(k, b["kn"], c.eps)
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
            # GQA: query head j uses kv head j // group
            k = k.repeat_interleave(group, dim=0)
            v = v.repeat_interleave(group, dim=0)
            scores = (q @ k.transpose(1, 2)) * scale          # [nh, S, S]
            scores = scores.masked_fill(mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            att = (probs @ v).transpose(0, 1).reshape(S, nh * d)
            o = att @ b["o"].T
            if c.o_bias:
                o = o + b["ob"]
            x = x + o
            h = rms_norm(x, b["ln2"], c.eps)
            if "router" in b:
                moe = moe_vectorised if self.moe_impl == "vectorised" else moe_loop
                x = x + moe(h, b, c)
            else:
                g = h @ b["gate"].T
                u = h @ b["up"].T
                x = x + (torch.nn.functional.silu(g) * u) @ b["down"].T
        x = rms_norm(x, self.norm, c.eps)
        return x @ self.lm_head.T


def swiglu(h, gate, up, down):
    return (torch.nn.functional.silu(h @ gate.T) * (h @ up.T)) @ down.T


def moe_vectorised(h, b, c):
    """Qwen3MoeSparseMoeBlock: softmax over all experts, top-k, optional renormalisation, weighted sum.

    Ties between equal probabilities go to the lower expert index (a stable sort), a rule the engine shares;
    torch.topk leaves the order of ties unspecified.
    """
    probs = torch.softmax(h @ b["router"].T, dim=-1)                    # [S, E]
    order = torch.sort(-probs, dim=-1, stable=True).indices[:, :c.top_k]  # [S, k]
    weights = torch.gather(probs, 1, order)
    if c.norm_topk_prob:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    out = torch.zeros_like(h)
    for e, (gate, up, down) in enumerate(b["experts"]):
        rows, slot = torch.nonzero(order == e, as_tuple=True)
        if rows.numel() == 0:
            continue
        out[rows] += swiglu(h[rows], gate, up, down) * weights[rows, slot].unsqueeze(-1)
    return out


def moe_loop(h, b, c):
    """The same block token by token with plain Python loops: the self-check's second formulation."""
    logits = h @ b["router"].T
    out = torch.zeros_like(h)
    for t in range(h.shape[0]):
        row = [float(v) for v in logits[t]]
        m = max(row)
        exps = [math.exp(v - m) for v in row]
        total = sum(exps)
        probs = [v / total for v in exps]
        chosen = []
        for _ in range(c.top_k):
            best = None
            for e in range(len(probs)):
                if e not in chosen and (best is None or probs[e] > probs[best]):
                    best = e
            chosen.append(best)
        w = [probs[e] for e in chosen]
        if c.norm_topk_prob:
            s = sum(w)
            w = [v / s for v in w]
        for e, we in zip(chosen, w):
            gate, up, down = b["experts"][e]
            out[t] += swiglu(h[t:t + 1], gate, up, down)[0] * we
    return out


def self_check(model, ids):
    """Runs the forward pass a second way (MoE by the plain loop) and returns the max relative difference."""
    a = model.forward(ids)
    model.moe_impl = "loop"
    try:
        b = model.forward(ids)
    finally:
        model.moe_impl = "vectorised"
    return float((a - b).abs().max() / a.abs().max())


def argmax_first(v):
    """Index of the maximum; the lowest index wins on exact ties."""
    m = torch.max(v)
    return int(torch.nonzero(v == m)[0, 0])


def parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent float64 PyTorch reference (Llama/Mistral/Qwen2/Qwen3/Qwen3-MoE, FP8)")
    ap.add_argument("--model", required=True, help="Hugging Face model directory (config.json + safetensors)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tokens", help="comma-separated prompt token ids")
    g.add_argument("--tokens-file", help="file with whitespace/comma-separated prompt token ids")
    ap.add_argument("--max-new-tokens", type=int, default=8, help="greedy tokens to produce (default 8)")
    ap.add_argument("--logits-at", default=None,
                    help="comma-separated prompt positions for logits_at (default: 0 and (S-1)//2)")
    ap.add_argument("--out", default=None, help="output JSON file (default: stdout)")
    ap.add_argument("--self-check", type=int, default=0, metavar="N",
                    help="also run the first N prompt tokens through the second formulation (MoE as a plain loop) "
                         "and fail unless both agree to 1e-12; the difference is recorded in the output")
    args = ap.parse_args(argv)

    if args.tokens is not None:
        ids = parse_ids(args.tokens)
    else:
        with open(args.tokens_file) as f:
            ids = parse_ids(f.read())
    if not ids:
        ap.error("empty prompt")
    S = len(ids)

    torch.set_grad_enabled(False)
    model = Model(args.model).load()

    checked = None
    if args.self_check > 0:
        if not model.cfg.moe:
            ap.error("--self-check has a second formulation only for mixture-of-experts models")
        checked = self_check(model, ids[:args.self_check])
        if not checked <= 1e-12:
            raise SystemExit("self-check failed: the two formulations differ by %g (relative)" % checked)

    logits = model.forward(ids)
    last = logits[S - 1]

    if args.logits_at is not None:
        positions = sorted(set(parse_ids(args.logits_at)))
        bad = [p for p in positions if not 0 <= p < S]
        if bad:
            ap.error("--logits-at positions out of range: %s" % bad)
    else:
        positions = sorted(set(p for p in (0, (S - 1) // 2) if p != S - 1))

    greedy = []
    seq = list(ids)
    step_logits = last
    for step in range(args.max_new_tokens):
        if step > 0:
            step_logits = model.forward(seq)[-1]
        t = argmax_first(step_logits)
        greedy.append(t)
        seq.append(t)

    result = {
        "produced_by": "independent PyTorch %s float64 implementation (tools/reference/torch_reference.py)"
                       % torch.__version__,
        "architecture": model.cfg.arch,
        "prompt_token_ids": ids,
        "last_logits": [float(v) for v in last.tolist()],
        "greedy_tokens": greedy,
        "logits_at": {str(p): [float(v) for v in logits[p].tolist()] for p in positions},
    }
    if checked is not None:
        result["self_check"] = {"tokens": min(args.self_check, S), "second_formulation": "MoE routed by a plain loop",
                                "max_relative_difference": checked}
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
            f.write("\n")
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
