#!/usr/bin/env python3
"""Independent float64 PyTorch reference for Hugging Face decoder-only LLMs.

Supported "architectures" (from config.json):
    LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Qwen3MoeForCausalLM,
    DeepseekV3ForCausalLM (DeepSeek-V3 / V3.1: multi-head latent attention, YaRN, sigmoid group-limited MoE)

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
             "Qwen3MoeForCausalLM", "DeepseekV3ForCausalLM")


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
        theta = cfg.get("rope_theta")
        self.theta = float(theta) if theta is not None else 10000.0
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.vocab = int(cfg["vocab_size"])
        self.tie = bool(cfg.get("tie_word_embeddings", False))
        self.rope_scaling = cfg.get("rope_scaling")
        self.max_positions = cfg.get("max_position_embeddings")
        self.sliding_window = cfg.get("sliding_window")
        self.use_sliding_window = cfg.get("use_sliding_window", arch == "MistralForCausalLM")
        self.mla = arch == "DeepseekV3ForCausalLM"
        self.qk_norm = arch in ("Qwen3ForCausalLM", "Qwen3MoeForCausalLM")
        # Qwen3-MoE (transformers' Qwen3MoeDecoderLayer): layer i has the sparse block when
        # i not in mlp_only_layers and num_experts > 0 and (i + 1) % decoder_sparse_step == 0.
        self.moe = arch == "Qwen3MoeForCausalLM"
        if self.mla:
            self.init_deepseek_v3(cfg)
        else:
            kv = cfg.get("num_key_value_heads")
            self.n_kv = int(kv) if kv is not None else self.n_heads
            hd = cfg.get("head_dim")
            self.head_dim = int(hd) if hd is not None else self.hidden // self.n_heads
            self.rope_dim = self.head_dim
            if arch == "Qwen2ForCausalLM":
                # Qwen2 always has q/k/v biases and no o_proj bias.
                self.qkv_bias = True
                self.o_bias = False
            else:
                ab = bool(cfg.get("attention_bias", False))
                self.qkv_bias = ab
                self.o_bias = ab
            if self.n_heads % self.n_kv != 0:
                raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
            if self.head_dim % 2 != 0:
                raise ValueError("head_dim must be even for RoPE")
        if self.moe:
            self.n_experts = int(cfg["num_experts"])
            self.top_k = int(cfg["num_experts_per_tok"])
            self.moe_inter = int(cfg["moe_intermediate_size"])
            self.norm_topk_prob = bool(cfg.get("norm_topk_prob", False))
            self.sparse_step = int(cfg.get("decoder_sparse_step", 1))
            self.mlp_only = set(int(i) for i in (cfg.get("mlp_only_layers") or []))
        if cfg.get("mlp_bias"):
            warn("config has mlp_bias=true; MLP biases are ignored by this reference")
        act = cfg.get("hidden_act", "silu")
        if act not in ("silu", "swish"):
            raise ValueError("unsupported hidden_act %r" % act)

    def init_deepseek_v3(self, cfg):
        """DeepseekV3ForCausalLM: multi-head latent attention and the sigmoid, group-limited mixture of experts.

        An absent key takes the default of transformers' DeepseekV3Config (the DeepSeek-V3 values), with a warning,
        as transformers would; values this reference does not implement are refused by name.
        """
        def get(key, default):
            if key not in cfg:
                warn("config.json has no %s; using transformers' DeepseekV3Config default %r" % (key, default))
                return default
            return cfg[key]

        def positive(key, value):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError("config.json: %s must be a positive integer, got %r" % (key, value))
            return value

        if cfg.get("attention_bias"):
            raise ValueError("config.json: attention_bias true is not supported for DeepseekV3ForCausalLM "
                             "(allowed: false or absent)")
        q_rank = get("q_lora_rank", 1536)
        if q_rank is not None:
            # DeepSeek's and transformers' modelling code test `is None`: 0 would mean a rank-0 q_a_proj.
            positive("q_lora_rank (null selects a plain q_proj)", q_rank)
        self.q_lora_rank = q_rank
        self.kv_lora_rank = positive("kv_lora_rank", get("kv_lora_rank", 512))
        self.qk_nope_dim = positive("qk_nope_head_dim", get("qk_nope_head_dim", 128))
        self.qk_rope_dim = positive("qk_rope_head_dim", get("qk_rope_head_dim", 64))
        self.v_head_dim = positive("v_head_dim", get("v_head_dim", 128))
        if self.qk_rope_dim % 2 != 0:
            raise ValueError("config.json: qk_rope_head_dim must be even for RoPE, got %d" % self.qk_rope_dim)
        self.rope_dim = self.qk_rope_dim
        interleave = cfg.get("rope_interleave", True)
        if not isinstance(interleave, bool):
            raise ValueError("config.json: rope_interleave must be true or false, got %r" % (interleave,))
        self.rope_interleave = interleave
        self.qkv_bias = False
        self.o_bias = False

        experts = get("n_routed_experts", 256)
        self.n_experts = 0 if experts is None else positive("n_routed_experts", experts)
        self.first_dense = get("first_k_dense_replace", 3)
        if not isinstance(self.first_dense, int) or self.first_dense < 0:
            raise ValueError("config.json: first_k_dense_replace must be an integer >= 0, got %r" % (self.first_dense,))
        self.moe_layer_freq = positive("moe_layer_freq", cfg.get("moe_layer_freq", 1))
        if self.n_experts == 0:
            return
        self.top_k = positive("num_experts_per_tok", get("num_experts_per_tok", 8))
        self.moe_inter = positive("moe_intermediate_size", get("moe_intermediate_size", 2048))
        shared = get("n_shared_experts", 1)
        if shared is not None and (not isinstance(shared, int) or shared < 0):
            raise ValueError("config.json: n_shared_experts must be an integer >= 0 or null, got %r" % (shared,))
        self.n_shared = shared or 0
        self.n_group = positive("n_group", get("n_group", 8))
        self.topk_group = positive("topk_group", get("topk_group", 4))
        self.routed_scale = float(get("routed_scaling_factor", 2.5))
        self.norm_topk_prob = bool(get("norm_topk_prob", True))
        scoring = cfg.get("scoring_func", "sigmoid")
        if scoring != "sigmoid":
            raise ValueError("config.json: scoring_func %r is not supported (allowed: sigmoid)" % (scoring,))
        method = cfg.get("topk_method", "noaux_tc")
        if method != "noaux_tc":
            raise ValueError("config.json: topk_method %r is not supported (allowed: noaux_tc)" % (method,))
        if self.n_experts % self.n_group != 0:
            raise ValueError("config.json: n_routed_experts %d is not divisible by n_group %d"
                             % (self.n_experts, self.n_group))
        if self.n_experts // self.n_group < 2:
            raise ValueError("config.json: n_routed_experts / n_group must be >= 2 (a group's score sums its top 2 "
                             "experts), got %d / %d" % (self.n_experts, self.n_group))
        if self.topk_group > self.n_group:
            raise ValueError("config.json: topk_group %d exceeds n_group %d" % (self.topk_group, self.n_group))
        if self.top_k > self.n_experts:
            raise ValueError("config.json: num_experts_per_tok %d exceeds n_routed_experts %d"
                             % (self.top_k, self.n_experts))


# ---------------------------------------------------------------------------
# math
# ---------------------------------------------------------------------------

def rope_inv_freq(cfg):
    """(inv_freq, attention_factor): inv_freq[i] = 1 / theta^(2i/d), i = 0..d/2-1, d the rotary dimension, with
    optional llama3 or (DeepSeek-V3 only) YaRN scaling; cos and sin are multiplied by attention_factor."""
    d = cfg.rope_dim
    exps = torch.arange(0, d, 2, dtype=DT) / d
    inv_freq = 1.0 / (cfg.theta ** exps)
    rs = cfg.rope_scaling
    if rs:
        rtype = rs.get("rope_type", rs.get("type"))
        if rtype in (None, "default"):
            pass
        elif rtype == "llama3" and not cfg.mla:
            inv_freq = llama3_scale(inv_freq, float(rs["factor"]), float(rs["low_freq_factor"]),
                                    float(rs["high_freq_factor"]),
                                    float(rs["original_max_position_embeddings"]))
        elif rtype == "yarn" and cfg.mla:
            return yarn_scale(inv_freq, d, cfg)
        else:
            raise ValueError("config.json: rope_scaling type %r is not supported for %s (allowed: %s)"
                             % (rtype, cfg.arch, "default, yarn" if cfg.mla else "default, llama3"))
    return inv_freq, 1.0


def yarn_get_mscale(scale, mscale):
    """YaRN's magnitude correction 0.1 * mscale * ln(scale) + 1, or 1 when the context is not extended."""
    if scale <= 1.0:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def yarn_scale(inv_freq, d, cfg):
    """YaRN as DeepSeek-V3's DeepseekV3YarnRotaryEmbedding (and transformers' _compute_yarn_parameters) define it.

    Frequency i keeps its original value (extrapolation) below the correction dimension of beta_fast rotations,
    is divided by `factor` (interpolation) above that of beta_slow rotations, and is blended linearly between.
    """
    rs = cfg.rope_scaling
    for key in ("factor", "original_max_position_embeddings"):
        if key not in rs:
            raise ValueError("config.json: rope_scaling of type yarn needs %s" % key)
    if "attention_factor" in rs:
        raise ValueError("config.json: rope_scaling.attention_factor is not supported (DeepSeek-V3 derives the "
                         "factor from mscale and mscale_all_dim)")
    if rs.get("truncate", True) is not True:
        raise ValueError("config.json: rope_scaling.truncate %r is not supported (allowed: true or absent)"
                         % (rs.get("truncate"),))
    factor = float(rs["factor"])
    original = float(rs["original_max_position_embeddings"])
    # transformers reads these with `or`, so an explicit 0 or null also means the default.
    beta_fast = float(rs.get("beta_fast") or 32)
    beta_slow = float(rs.get("beta_slow") or 1)
    base = cfg.theta

    def correction_dim(rotations):
        # the dimension whose wavelength turns `rotations` times over the original context
        return d * math.log(original / (rotations * 2.0 * math.pi)) / (2.0 * math.log(base))

    low = max(math.floor(correction_dim(beta_fast)), 0)
    high = min(math.ceil(correction_dim(beta_slow)), d - 1)
    if low == high:
        high += 0.001  # as the originals: avoids dividing by zero
    ramp = ((torch.arange(d // 2, dtype=DT) - low) / (high - low)).clamp(0.0, 1.0)
    keep = 1.0 - ramp  # weight of the original (extrapolated) frequency
    scaled = (inv_freq / factor) * (1.0 - keep) + inv_freq * keep

    mscale = float(rs.get("mscale", 1.0))
    mscale_all_dim = float(rs.get("mscale_all_dim", 0.0))
    attention_factor = yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim)
    # transformers uses the same ratio only when both keys are set and non-zero, else get_mscale(factor, 1);
    # DeepSeek's modelling code (followed here) always takes the ratio with defaults mscale 1, mscale_all_dim 0.
    hf = attention_factor if (rs.get("mscale") and rs.get("mscale_all_dim")) else yarn_get_mscale(factor, 1.0)
    if hf != attention_factor:
        warn("rope_scaling: cos/sin scale %r follows DeepSeek's yarn_get_mscale(factor, mscale) / "
             "yarn_get_mscale(factor, mscale_all_dim); transformers would use %r" % (attention_factor, hf))
    if cfg.max_positions is not None and float(cfg.max_positions) / original != factor:
        warn("rope_scaling: max_position_embeddings / original_max_position_embeddings = %r differs from factor %r; "
             "this reference uses factor, as DeepSeek's modelling code does (recent transformers use the ratio)"
             % (float(cfg.max_positions) / original, factor))
    return scaled, attention_factor


def mla_softmax_scale(cfg):
    """(qk_nope_head_dim + qk_rope_head_dim)^-0.5, times yarn_get_mscale(factor, mscale_all_dim)^2 under YaRN."""
    scale = (cfg.qk_nope_dim + cfg.qk_rope_dim) ** -0.5
    rs = cfg.rope_scaling
    if rs and rs.get("rope_type", rs.get("type")) == "yarn":
        mscale_all_dim = rs.get("mscale_all_dim", 0)
        if mscale_all_dim:
            m = yarn_get_mscale(float(rs["factor"]), float(mscale_all_dim))
            scale = scale * m * m
    return scale


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


def deinterleave(x):
    """DeepSeek's rope pairs are adjacent dims (2i, 2i+1); transformers' apply_rotary_pos_emb_interleave moves the
    even dims first and the odd dims after them, so that rotate_half's pairs (i, i + d/2) are those pairs."""
    return torch.cat((x[..., 0::2], x[..., 1::2]), dim=-1)


def rotate_pairs(x, angles, factor, interleave):
    """RoPE by rotating each pair (a, b) by its angle directly, leaving the layout as it is: the self-check's
    second formulation.  Pairs are (2i, 2i+1) when interleaved, else (i, i + d/2); x: [..., S, d]."""
    d = x.shape[-1]
    if interleave:
        ia, ib = torch.arange(0, d, 2), torch.arange(1, d, 2)
    else:
        ia, ib = torch.arange(0, d // 2), torch.arange(d // 2, d)
    cos = angles.cos() * factor  # [S, d/2]
    sin = angles.sin() * factor
    xa, xb = x[..., ia], x[..., ib]
    out = torch.empty_like(x)
    out[..., ia] = xa * cos - xb * sin
    out[..., ib] = xb * cos + xa * sin
    return out


# q_a_layernorm and kv_a_layernorm are built without an eps argument in both DeepSeek's and transformers'
# modelling code, so they use DeepseekV3RMSNorm's default 1e-6, not rms_norm_eps.
MLA_NORM_EPS = 1e-6


class Model(object):
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.raw_config = json.load(f)
        self.cfg = Config(self.raw_config)
        self.tensors = dequantize_fp8(load_checkpoint(model_dir), self.raw_config)
        self.used = set()
        self.inv_freq, self.rope_factor = rope_inv_freq(self.cfg)
        self.moe_impl = "vectorised"
        self.mla_impl = "expanded"

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
        if c.mla:
            # DeepSeek's DeepseekV3DecoderLayer (transformers drops the moe_layer_freq test, which is 1 in V3)
            return c.n_experts > 0 and i >= c.first_dense and i % c.moe_layer_freq == 0
        return c.moe and i not in c.mlp_only and c.n_experts > 0 and (i + 1) % c.sparse_step == 0

    def load(self):
        c = self.cfg
        H, I, V = c.hidden, c.inter, c.vocab
        self.embed = self.w("model.embed_tokens.weight", (V, H))
        self.blocks = []
        for i in range(c.layers):
            p = "model.layers.%d." % i
            b = {
                "ln1": self.w(p + "input_layernorm.weight", (H,)),
                "ln2": self.w(p + "post_attention_layernorm.weight", (H,)),
            }
            b.update(self.load_mla(p) if c.mla else self.load_gqa(p))
            if self.is_sparse(i):
                b.update(self.load_sparse(p))
            else:
                b["gate"] = self.w(p + "mlp.gate_proj.weight", (I, H))
                b["up"] = self.w(p + "mlp.up_proj.weight", (I, H))
                b["down"] = self.w(p + "mlp.down_proj.weight", (H, I))
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

    def load_gqa(self, p):
        c = self.cfg
        H = c.hidden
        qd, kvd = c.n_heads * c.head_dim, c.n_kv * c.head_dim
        b = {
            "q": self.w(p + "self_attn.q_proj.weight", (qd, H)),
            "k": self.w(p + "self_attn.k_proj.weight", (kvd, H)),
            "v": self.w(p + "self_attn.v_proj.weight", (kvd, H)),
            "o": self.w(p + "self_attn.o_proj.weight", (H, qd)),
        }
        if c.qkv_bias:
            b["qb"] = self.w(p + "self_attn.q_proj.bias", (qd,))
            b["kb"] = self.w(p + "self_attn.k_proj.bias", (kvd,))
            b["vb"] = self.w(p + "self_attn.v_proj.bias", (kvd,))
        if c.o_bias:
            b["ob"] = self.w(p + "self_attn.o_proj.bias", (H,))
        if c.qk_norm:
            b["qn"] = self.w(p + "self_attn.q_norm.weight", (c.head_dim,))
            b["kn"] = self.w(p + "self_attn.k_norm.weight", (c.head_dim,))
        return b

    def load_mla(self, p):
        c = self.cfg
        H, nh, R = c.hidden, c.n_heads, c.kv_lora_rank
        dqk = c.qk_nope_dim + c.qk_rope_dim
        a = p + "self_attn."
        b = {}
        if c.q_lora_rank is None:
            b["q"] = self.w(a + "q_proj.weight", (nh * dqk, H))
        else:
            QR = c.q_lora_rank
            b["q_a"] = self.w(a + "q_a_proj.weight", (QR, H))
            b["q_a_norm"] = self.w(a + "q_a_layernorm.weight", (QR,))
            b["q_b"] = self.w(a + "q_b_proj.weight", (nh * dqk, QR))
        b["kv_a"] = self.w(a + "kv_a_proj_with_mqa.weight", (R + c.qk_rope_dim, H))
        b["kv_a_norm"] = self.w(a + "kv_a_layernorm.weight", (R,))
        b["kv_b"] = self.w(a + "kv_b_proj.weight", (nh * (c.qk_nope_dim + c.v_head_dim), R))
        b["o"] = self.w(a + "o_proj.weight", (H, nh * c.v_head_dim))
        return b

    def load_sparse(self, p):
        c = self.cfg
        H, E, MI = c.hidden, c.n_experts, c.moe_inter
        b = {
            "router": self.w(p + "mlp.gate.weight", (E, H)),
            "experts": [(self.w(p + "mlp.experts.%d.gate_proj.weight" % e, (MI, H)),
                         self.w(p + "mlp.experts.%d.up_proj.weight" % e, (MI, H)),
                         self.w(p + "mlp.experts.%d.down_proj.weight" % e, (H, MI))) for e in range(E)],
        }
        if c.mla:
            b["score_bias"] = self.w(p + "mlp.gate.e_score_correction_bias", (E,))
            if c.n_shared > 0:
                SI = MI * c.n_shared
                b["shared"] = (self.w(p + "mlp.shared_experts.gate_proj.weight", (SI, H)),
                               self.w(p + "mlp.shared_experts.up_proj.weight", (SI, H)),
                               self.w(p + "mlp.shared_experts.down_proj.weight", (H, SI)))
        return b

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

        pos = torch.arange(S, dtype=DT)
        angles = torch.outer(pos, self.inv_freq)          # [S, d/2]
        emb = torch.cat((angles, angles), dim=-1)         # [S, d]
        cos, sin = emb.cos() * self.rope_factor, emb.sin() * self.rope_factor
        mask = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)  # True = masked (future)

        x = self.embed[torch.tensor(ids, dtype=torch.long)]  # [S, H]
        for b in self.blocks:
            h = rms_norm(x, b["ln1"], c.eps)
            if not c.mla:
                x = x + gqa_attention(h, b, c, cos, sin, mask)
            elif self.mla_impl == "expanded":
                x = x + mla_expanded(h, b, c, cos, sin, mask)
            else:
                x = x + mla_absorbed(h, b, c, angles, self.rope_factor, mask)
            h = rms_norm(x, b["ln2"], c.eps)
            if "router" in b:
                if c.mla:
                    moe = deepseek_moe_vectorised if self.moe_impl == "vectorised" else deepseek_moe_loop
                else:
                    moe = moe_vectorised if self.moe_impl == "vectorised" else moe_loop
                x = x + moe(h, b, c)
            else:
                x = x + swiglu(h, b["gate"], b["up"], b["down"])
        x = rms_norm(x, self.norm, c.eps)
        return x @ self.lm_head.T


def gqa_attention(h, b, c, cos, sin, mask):
    """Llama/Mistral/Qwen attention with grouped key/value heads."""
    S = h.shape[0]
    nh, nkv, d = c.n_heads, c.n_kv, c.head_dim
    group = nh // nkv
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
    scores = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(d))  # [nh, S, S]
    scores = scores.masked_fill(mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    att = (probs @ v).transpose(0, 1).reshape(S, nh * d)
    o = att @ b["o"].T
    if c.o_bias:
        o = o + b["ob"]
    return o


def mla_query(h, b, c):
    """[nh, S, qk_nope_head_dim + qk_rope_head_dim]: q_proj, or q_a_proj -> q_a_layernorm -> q_b_proj."""
    if "q" in b:
        q = h @ b["q"].T
    else:
        q = rms_norm(h @ b["q_a"].T, b["q_a_norm"], MLA_NORM_EPS) @ b["q_b"].T
    return q.view(h.shape[0], c.n_heads, c.qk_nope_dim + c.qk_rope_dim).transpose(0, 1)


def mla_latent(h, b, c):
    """kv_a_proj_with_mqa -> (normalised latent [S, kv_lora_rank], rope key before RoPE [S, qk_rope_head_dim])."""
    kv = h @ b["kv_a"].T
    R = c.kv_lora_rank
    return rms_norm(kv[:, :R], b["kv_a_norm"], MLA_NORM_EPS), kv[:, R:]


def mla_expanded(h, b, c, cos, sin, mask):
    """Multi-head latent attention as transformers' DeepseekV3Attention computes it: per-head K and V expanded from
    the latent by kv_b_proj, the rope key shared by all heads, ordinary softmax attention."""
    S = h.shape[0]
    nh, dn, dv = c.n_heads, c.qk_nope_dim, c.v_head_dim
    q = mla_query(h, b, c)
    q_nope, q_rope = q[..., :dn], q[..., dn:]
    latent, k_rope = mla_latent(h, b, c)
    kv = (latent @ b["kv_b"].T).view(S, nh, dn + dv).transpose(0, 1)  # [nh, S, dn + dv]
    k_nope, v = kv[..., :dn], kv[..., dn:]
    k_rope = k_rope.unsqueeze(0)  # [1, S, dr]
    if c.rope_interleave:
        q_rope = deinterleave(q_rope)
        k_rope = deinterleave(k_rope)
    q_rope = apply_rope(q_rope, cos, sin)
    k_rope = apply_rope(k_rope, cos, sin)
    q = torch.cat((q_nope, q_rope), dim=-1)
    k = torch.cat((k_nope, k_rope.expand(nh, S, c.qk_rope_dim)), dim=-1)
    scores = (q @ k.transpose(1, 2)) * mla_softmax_scale(c)  # [nh, S, S]
    scores = scores.masked_fill(mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    att = (probs @ v).transpose(0, 1).reshape(S, nh * dv)
    return att @ b["o"].T


def mla_absorbed(h, b, c, angles, rope_factor, mask):
    """The same attention with kv_b_proj absorbed (the self-check's second formulation): each head's q_nope is
    multiplied into kv_b's key rows so scores are taken against the latent itself, and the attention-weighted
    latent goes through kv_b's value rows afterwards; per-head K and V never exist.  RoPE rotates pairs in place
    and the softmax is written out."""
    S = h.shape[0]
    nh, dn, dv, R = c.n_heads, c.qk_nope_dim, c.v_head_dim, c.kv_lora_rank
    q = mla_query(h, b, c)
    q_nope, q_rope = q[..., :dn], q[..., dn:]
    latent, k_rope = mla_latent(h, b, c)
    w = b["kv_b"].view(nh, dn + dv, R)
    w_k, w_v = w[:, :dn, :], w[:, dn:, :]               # [nh, dn, R], [nh, dv, R]
    q_latent = q_nope @ w_k                               # [nh, S, R]
    q_rot = rotate_pairs(q_rope, angles, rope_factor, c.rope_interleave)
    k_rot = rotate_pairs(k_rope, angles, rope_factor, c.rope_interleave)  # [S, dr]
    scores = (q_latent @ latent.T + q_rot @ k_rot.T) * mla_softmax_scale(c)
    scores = scores.masked_fill(mask, float("-inf"))
    top = scores.max(dim=-1, keepdim=True).values
    e = torch.exp(scores - top)
    probs = e / e.sum(dim=-1, keepdim=True)
    att = (probs @ latent) @ w_v.transpose(1, 2)           # [nh, S, dv]
    return att.transpose(0, 1).reshape(S, nh * dv) @ b["o"].T


def swiglu(h, gate, up, down):
    return (torch.nn.functional.silu(h @ gate.T) * (h @ up.T)) @ down.T


def weighted_experts(h, experts, order, weights):
    """sum over slots k of weights[:, k] * experts[order[:, k]](h), each expert run once on its tokens."""
    out = torch.zeros_like(h)
    for e, (gate, up, down) in enumerate(experts):
        rows, slot = torch.nonzero(order == e, as_tuple=True)
        if rows.numel() == 0:
            continue
        out[rows] += swiglu(h[rows], gate, up, down) * weights[rows, slot].unsqueeze(-1)
    return out


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
    return weighted_experts(h, b["experts"], order, weights)


def pick_top(values, k):
    """Indices of the k largest values by repeated scans; the lower index wins ties (strict >)."""
    chosen = []
    for _ in range(k):
        best = None
        for i, v in enumerate(values):
            if i not in chosen and (best is None or v > values[best]):
                best = i
        chosen.append(best)
    return chosen


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
        chosen = pick_top(probs, c.top_k)
        w = [probs[e] for e in chosen]
        if c.norm_topk_prob:
            s = sum(w)
            w = [v / s for v in w]
        for e, we in zip(chosen, w):
            gate, up, down = b["experts"][e]
            out[t] += swiglu(h[t:t + 1], gate, up, down)[0] * we
    return out


def deepseek_route(h, b, c):
    """DeepseekV3TopkRouter (topk_method noaux_tc): -> (expert indices [S, k], weights [S, k]).

    Sigmoid scores; the correction bias is added for choosing only.  A group scores the sum of its two best biased
    scores; the topk_group best groups are kept and every other expert's biased score becomes 0.0 (the value
    DeepSeek's and transformers' masked_fill use, not -inf: a kept expert whose biased score is negative can lose
    to a masked one).  The top num_experts_per_tok of the masked scores are chosen; their weights are the unbiased
    sigmoid scores, divided by (their sum + 1e-20) when norm_topk_prob, times routed_scaling_factor.  Ties, for
    groups and for experts, go to the lower index (stable sorts); torch.topk leaves them unspecified.
    """
    scores = torch.sigmoid(h @ b["router"].T)          # [S, E]
    choice = scores + b["score_bias"]
    S, E = choice.shape
    G = c.n_group
    top2 = torch.sort(choice.view(S, G, E // G), dim=-1, descending=True).values[..., :2]
    group_scores = top2[..., 0] + top2[..., 1]           # [S, G]
    groups = torch.sort(-group_scores, dim=-1, stable=True).indices[:, :c.topk_group]
    keep = torch.zeros(S, G, dtype=torch.bool)
    keep.scatter_(1, groups, True)
    masked = choice.masked_fill(~keep.repeat_interleave(E // G, dim=1), 0.0)
    order = torch.sort(-masked, dim=-1, stable=True).indices[:, :c.top_k]  # [S, k]
    weights = torch.gather(scores, 1, order)
    if c.norm_topk_prob:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return order, weights * c.routed_scale


def deepseek_moe_vectorised(h, b, c):
    """DeepseekV3MoE: routed experts weighted by the router, plus the shared experts on every token."""
    order, weights = deepseek_route(h, b, c)
    out = weighted_experts(h, b["experts"], order, weights)
    if "shared" in b:
        out = out + swiglu(h, *b["shared"])
    return out


def sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def deepseek_moe_loop(h, b, c):
    """DeepseekV3MoE token by token with plain Python loops: the self-check's second formulation."""
    logits = h @ b["router"].T
    bias = [float(v) for v in b["score_bias"]]
    E, G = c.n_experts, c.n_group
    size = E // G
    out = torch.zeros_like(h)
    for t in range(h.shape[0]):
        scores = [sigmoid(float(v)) for v in logits[t]]
        choice = [scores[e] + bias[e] for e in range(E)]
        group_scores = []
        for g in range(G):
            first = second = None
            for e in range(g * size, (g + 1) * size):
                v = choice[e]
                if first is None or v > first:
                    first, second = v, first
                elif second is None or v > second:
                    second = v
            group_scores.append(first + second)
        kept = pick_top(group_scores, c.topk_group)
        masked = [choice[e] if e // size in kept else 0.0 for e in range(E)]
        chosen = pick_top(masked, c.top_k)
        w = [scores[e] for e in chosen]
        if c.norm_topk_prob:
            total = sum(w) + 1e-20
            w = [v / total for v in w]
        x = h[t:t + 1]
        acc = torch.zeros(h.shape[1], dtype=DT)
        for e, we in zip(chosen, w):
            acc += swiglu(x, *b["experts"][e])[0] * (we * c.routed_scale)
        if "shared" in b:
            acc += swiglu(x, *b["shared"])[0]
        out[t] = acc
    return out


def self_check(model, ids):
    """Runs the forward pass a second way (MoE routed by plain loops; for DeepSeek-V3 also MLA with absorbed
    projections) and returns the max relative difference."""
    a = model.forward(ids)
    model.moe_impl, model.mla_impl = "loop", "absorbed"
    try:
        b = model.forward(ids)
    finally:
        model.moe_impl, model.mla_impl = "vectorised", "expanded"
    return float((a - b).abs().max() / a.abs().max())


def argmax_first(v):
    """Index of the maximum; the lowest index wins on exact ties."""
    m = torch.max(v)
    return int(torch.nonzero(v == m)[0, 0])


def parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent float64 PyTorch reference "
                                             "(Llama/Mistral/Qwen2/Qwen3/Qwen3-MoE/DeepSeek-V3, FP8)")
    ap.add_argument("--model", required=True, help="Hugging Face model directory (config.json + safetensors)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tokens", help="comma-separated prompt token ids")
    g.add_argument("--tokens-file", help="file with whitespace/comma-separated prompt token ids")
    ap.add_argument("--max-new-tokens", type=int, default=8, help="greedy tokens to produce (default 8)")
    ap.add_argument("--logits-at", default=None,
                    help="comma-separated prompt positions for logits_at (default: 0 and (S-1)//2)")
    ap.add_argument("--out", default=None, help="output JSON file (default: stdout)")
    ap.add_argument("--self-check", type=int, default=0, metavar="N",
                    help="also run the first N prompt tokens through the second formulation (MoE routed by plain "
                         "loops; DeepSeek-V3's MLA with absorbed projections) and fail unless both agree to "
                         "1e-12; the difference is recorded in the output")
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
        if not (model.cfg.moe or model.cfg.mla):
            ap.error("--self-check has a second formulation only for Qwen3-MoE and DeepSeek-V3 models")
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
        second = "MoE routed by a plain loop"
        if model.cfg.mla:
            second = ("MLA with absorbed projections (scores against the latent, no per-head K/V), RoPE by pair "
                      "rotation, written-out softmax; MoE group-limited routing by plain loops")
        result["self_check"] = {"tokens": min(args.self_check, S), "second_formulation": second,
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
