#!/usr/bin/env python3
"""pipefill GPU check: runs on a single-GPU host from the unpacked bundle (build-bundle.sh), no Java install,
no network, and prints ONE JSON report (also written to $OUT/report.json when $OUT is set).

Every step is a child process under its own timeout and under a global deadline, so the whole check ends in
time even if a step hangs; a failed step records its error and the check goes on. The torch steps run in
children too (``check.py torch-...``): their CUDA memory is gone before pipefill's pool takes 90% of what is
free, and a wedged CUDA call can be killed.

The report survives any cut-off: it is rewritten (atomically: a temporary file, then a rename) into the output
directory (--out, default $OUT: what comes back from the GPU host) as each step starts and ends, with
"complete": false and "running_step" naming the step under way until the last write, and the same progress
lines as stderr go to progress.log beside it. A run killed at any point still returns every finished step.

Usage: check.py run --bundle DIR [--deadline-s 450] [--out DIR]
"""
import argparse
import glob
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

REL_TOL = 3e-2           # relative L2 error of last-position logits allowed (BF16 against float32)
CHUNKED_TOL = 3e-2       # chunked against unchunked, both on the CUDA backend
THROUGHPUT_LENGTHS = [8192, 32768, 65536]
THROUGHPUT_CHUNK = 8192
GEMM_N = 8192
# the 8b-shape preset (shared-model ModelPreset.EIGHT_B_SHAPE): check.py builds transformers' twin from these
EIGHT_B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
               rope_theta=500000.0, rms_norm_eps=1e-5,
               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
# dry runs of the torch children on a machine without a GPU set this to "cpu"
DEV = os.environ.get("PIPEFILL_CHECK_TORCH_DEVICE", "cuda")
# step names to leave out, comma-separated (dry runs: the 8b-shape steps need a GPU's memory)
SKIP = set(filter(None, os.environ.get("PIPEFILL_CHECK_SKIP", "").split(",")))
NEEDED_LIBS = ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libnvrtc.so.13", "libcudnn.so.9",
               "libnccl.so.2", "libcuda.so.1"]
# Java probes shipped in the gpu-probes jar (module gpu-probes, not the worker jar), on the bundle's lib/ class path:
# (step, main class, timeout s, counts toward all_checks_passed)
PROBES = [("nccl_self_send_recv_all_reduce", "io.pipefill.worker.cuda.NcclProbe", 90, True),
          ("probe_cublaslt_gemm", "io.pipefill.worker.cuda.GemmProbe", 90, True),
          # cuDNN's fused attention is an alternative to our flash kernel, not the default: informational
          ("probe_cudnn_attention", "io.pipefill.worker.cuda.CudnnAttentionProbe", 90, False)]
INFORMATIONAL = {name for name, _, _, counts in PROBES if not counts}
# attention implementations not yet verified on a GPU: the worker accepts them only with its experimental switch
# (io.pipefill.worker.cuda.Experimental), which the check sets when it is asked for one of them
EXPERIMENTAL_ATTENTION = {"cudnn", "wgmma", "wgmma-overlap"}


def attention_opts(attention):
    """The JVM options that make pipefill use `attention` (-Dpipefill.cuda.attention, plus the switch if needed)."""
    opts = "-Dpipefill.cuda.attention=" + attention
    return opts + " -Dpipefill.cuda.experimental=true" if attention in EXPERIMENTAL_ATTENTION else opts
# attention_probe.py on the bundle's cubins: the default flash kernel, then the Hopper wgmma kernel, its
# diagnostic twin and its overlapped form; informational (the pipefill steps check the attention the worker runs)
ATTENTION_PROBE_VARIANTS = ["w4_m2", "wgmma", "wgmma_vswap", "wgmma_overlap"]
INFORMATIONAL.add("probe_attention_kernels")


REPORT_NAME = "report.json"
PROGRESS_NAME = "progress.log"
PROGRESS = None  # the progress file beside the report, once the output directory is known


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def log(msg):
    line = "gpu-check: " + msg
    print(line, file=sys.stderr, flush=True)
    if PROGRESS:
        try:
            with open(PROGRESS, "a") as f:
                f.write("%s %s\n" % (utc_now(), line))
        except OSError:
            pass  # the report is what matters; stderr still has the line


def write_atomically(directory, name, text):
    """directory/name holds either its previous content or `text`, never a part: a run killed mid-write (the
    device's time limit, the hard limit) must not leave a truncated report. SIGTERM waits until the rename is done,
    so the terminate handler's own write cannot interleave with this one."""
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(directory, name))
        except BaseException:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


# ---------------------------------------------------------------------------------------------- libraries

def nvidia_lib_dirs():
    """Directories holding shared libraries inside the Python environment's nvidia-* pip packages (and torch/lib)."""
    dirs = []
    roots = []
    try:
        import importlib.util
        spec = importlib.util.find_spec("nvidia")
        if spec is not None and spec.submodule_search_locations:
            roots.extend(spec.submodule_search_locations)
    except Exception as e:  # a broken namespace package must not stop the check
        log("could not import the nvidia namespace package: %r" % (e,))
    for root in roots:
        for path in sorted(glob.glob(os.path.join(root, "**", "lib*.so*"), recursive=True)):
            d = os.path.dirname(path)
            if d not in dirs:
                dirs.append(d)
    try:
        import importlib.util
        spec = importlib.util.find_spec("torch")
        if spec is not None and spec.origin:
            tl = os.path.join(os.path.dirname(spec.origin), "lib")
            if os.path.isdir(tl):
                dirs.append(tl)
    except Exception:
        pass
    return dirs


def system_lib_dirs():
    dirs = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/nvidia/lib64",
            "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib/x86_64-linux-gnu"]
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if "=>" in line:
                d = os.path.dirname(line.split("=>", 1)[1].strip())
                if d not in dirs:
                    dirs.append(d)
    except Exception:
        pass
    return [d for d in dirs if os.path.isdir(d)]


def locate_libraries():
    """LD_LIBRARY_PATH for pipefill: the pip packages' lib dirs first (the CUDA 13 libs PyTorch uses), then the
    existing LD_LIBRARY_PATH and the system's. Reports where each needed soname was found."""
    pip_dirs = nvidia_lib_dirs()
    existing = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    search = []
    for d in pip_dirs + existing + system_lib_dirs():
        if d not in search:
            search.append(d)
    found = {}
    for so in NEEDED_LIBS:
        found[so] = next((os.path.join(d, so) for d in search if os.path.exists(os.path.join(d, so))), None)
    # only the directories that hold something we need, plus any the user set: a short, explainable path
    keep = []
    for d in pip_dirs + existing:
        if d not in keep and (d in existing or any(p and os.path.dirname(p) == d for p in found.values())
                              or glob.glob(os.path.join(d, "libnvrtc-builtins*"))):
            keep.append(d)
    for p in found.values():
        if p and os.path.dirname(p) not in keep:
            keep.append(os.path.dirname(p))
    return {"ld_library_path": ":".join(keep), "found": found,
            "missing": [so for so, p in found.items() if p is None], "pip_lib_dirs": pip_dirs}


# ---------------------------------------------------------------------------------------------- running

class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def cap(self, timeout):
        return max(0.0, min(timeout, self.left()))


RUNNING = set()  # process groups of the children now running, killed if this script is terminated
CURRENT = None  # the check under way: its report is written once more when the script is terminated


def on_term(signum, frame):
    # run-on-gpu.sh's hard limit (timeout) sends SIGTERM: children live in their own sessions, so kill them
    # here, or a hung Java process would go on holding the GPU after the check ended
    for pgid in list(RUNNING):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    if CURRENT is not None and not CURRENT.report.get("complete"):
        running = CURRENT.report.get("running_step", {}).get("name")
        CURRENT.report["fatal"] = "check.py was terminated (signal %d) %s" % (
            signum, "while step %s was running" % running if running else "between steps")
        log(CURRENT.report["fatal"])
        CURRENT.write_report()
    sys.exit(124)


def run_cmd(cmd, timeout, env=None, cwd=None):
    """Runs cmd in its own process group; on timeout kills the whole group. Returns a dict."""
    t0 = time.monotonic()
    if timeout < 5:
        return {"ok": False, "error": "skipped: the check's overall deadline leaves no time for this step",
                "seconds": 0.0, "cmd": " ".join(cmd)}
    # SIGTERM held back from the fork until the child's pid is in RUNNING, so the terminate handler cannot miss a
    # child (a Java process holding the GPU); the child unblocks it before it execs
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                                 start_new_session=True,
                                 preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM}))
        except OSError as e:
            return {"ok": False, "error": "could not start: %s" % e, "seconds": 0.0, "cmd": " ".join(cmd)}
        RUNNING.add(p.pid)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = p.communicate()
        RUNNING.discard(p.pid)
        return {"ok": False, "error": "timed out after %.0f s" % timeout, "seconds": time.monotonic() - t0,
                "stdout": out, "stderr_tail": (err or "")[-3000:], "cmd": " ".join(cmd)}
    RUNNING.discard(p.pid)
    r = {"ok": p.returncode == 0, "rc": p.returncode, "seconds": time.monotonic() - t0, "stdout": out,
         "stderr_tail": (err or "")[-3000:], "cmd": " ".join(cmd)}
    if p.returncode != 0:
        r["error"] = "exit code %d: %s" % (p.returncode, (err or "").strip()[-1500:])
    return r


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_f32(path):
    import numpy as np
    return np.fromfile(path, dtype="<f4").astype("float64")


def compare(test, ref, tol):
    """Relative L2 error of logits, top-1 agreement; ok when both hold."""
    import numpy as np
    test = np.asarray(test, dtype="float64")
    ref = np.asarray(ref, dtype="float64")
    if test.shape != ref.shape:
        return {"ok": False, "error": "logits of different sizes: %s vs %s" % (test.shape, ref.shape)}
    if not np.all(np.isfinite(test)):
        return {"ok": False, "error": "non-finite logits (%d of %d)" % (int((~np.isfinite(test)).sum()), test.size)}
    rel = float(np.linalg.norm(test - ref) / max(np.linalg.norm(ref), 1e-30))
    t1, r1 = int(np.argmax(test)), int(np.argmax(ref))
    return {"ok": rel <= tol and t1 == r1, "rel_error": rel, "tolerance": tol, "top1": t1, "top1_reference": r1,
            "max_abs_diff": float(np.max(np.abs(test - ref)))}


def json_lines(text):
    """The JSON objects among a child's stdout lines (probes print one per case)."""
    out = []
    for line in (text or "").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def attention_fields(prefill, asked):
    """What a throughput row says about attention, from the prefill JSON's "attention" (the worker's record of
    what each chunk ran on): the implementation requested and those used (chunks each), and "fell_back" with the
    reasons when any chunk ran another implementation than the requested one (a cuDNN run that silently fell back
    to the flash kernel would otherwise be reported as cuDNN's figure). `asked` is what the check asked for
    (-Dpipefill.cuda.attention; None: the worker's default), which the worker must report as its request."""
    a = prefill.get("attention")
    if not isinstance(a, dict):
        return {"attention_used": None, "fell_back": None,
                "attention_error": "the prefill JSON has no \"attention\" field: a worker older than this check"}
    requested = a.get("requested")
    used = {impl: u.get("chunks") for impl, u in (a.get("used") or {}).items()}
    fields = {"attention_requested": requested, "attention_used": used,
              # the worker's flag, and the check's own reading of the counts: either one is enough
              "fell_back": bool(a.get("fell_back")) or any(impl != requested for impl in used)}
    if fields["fell_back"]:
        fields["fallbacks"] = [{"implementation": f.get("implementation"), "chunks": f.get("chunks"),
                                "first_position": f.get("first_position"), "reason": str(f.get("reason"))[:600]}
                               for f in a.get("fallbacks") or []]
        if a.get("fallback_chunks_not_listed"):
            fields["fallback_chunks_not_listed"] = a["fallback_chunks_not_listed"]
    if asked is not None and requested != asked:
        fields["attention_error"] = "asked for %s but the worker ran with %s requested" % (asked, requested)
    return fields


def strip(r):
    """A step result for the report: no full stdout (parsed already)."""
    return {k: v for k, v in r.items() if k != "stdout"}


# ---------------------------------------------------------------------------------------------- torch children

def torch_env_info():
    import torch
    info = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
            "torch_cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except Exception as e:
        info["transformers"] = "import failed: %r" % (e,)
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, capability="%d.%d" % (p.major, p.minor), memory_gib=round(p.total_memory / 2**30, 1),
                    sms=p.multi_processor_count)
    return info


def sync():
    import torch
    if DEV == "cuda":
        torch.cuda.synchronize()


def torch_gemm_peak(n, iters):
    import torch
    a = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    for _ in range(3):
        torch.matmul(a, b)
    sync()
    best = 0.0
    for _ in range(3):  # best of three timed loops: the peak, not an average over clock ramps
        t0 = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, b)
        sync()
        best = max(best, 2.0 * n ** 3 * iters / (time.perf_counter() - t0))
    return {"n": n, "iters": iters, "tflops": best / 1e12}


def torch_hf_parity(model_dir, prompt_ids, new_tokens, out_logits):
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16)
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    model = model.to(DEV).eval()
    ids = torch.tensor([prompt_ids], device=DEV)
    greedy = []
    with torch.inference_mode():
        logits = model(ids).logits[0, -1].float()
        np.asarray(logits.cpu().numpy(), dtype="<f4").tofile(out_logits)
        greedy.append(int(torch.argmax(logits)))
        seq = ids
        for _ in range(new_tokens - 1):  # whole-sequence recompute: short prompts, no cache semantics involved
            seq = torch.cat([seq, torch.tensor([[greedy[-1]]], device=DEV)], dim=1)
            greedy.append(int(torch.argmax(model(seq).logits[0, -1])))
    return {"greedy_tokens": greedy, "attn_implementation": getattr(model.config, "_attn_implementation", None)}


def llama_flops(n, c):
    """Model FLOPs of a causal prefill of n tokens, one formula for pipefill and transformers: 2·params·n for
    the layers' projections, 2·n²·q_dim per layer for QKᵀ and PV under the causal mask (half of 4·n²·q_dim),
    and the lm_head for the last position only."""
    h, inter, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    q = c["num_attention_heads"] * c["head_dim"]
    kv = c["num_key_value_heads"] * c["head_dim"]
    per_layer = h * (q + 2 * kv) + q * h + 3 * h * inter
    return 2.0 * n * per_layer * layers + 2.0 * n * n * q * layers + 2.0 * h * c["vocab_size"]


def torch_hf_throughput(lengths, deadline_s):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    t_end = time.monotonic() + deadline_s
    cfg = LlamaConfig(**EIGHT_B, tie_word_embeddings=False, attention_bias=False)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(DEV):
        model = LlamaForCausalLM(cfg)  # random init on the GPU: seconds, where a CPU init takes minutes
    model.eval()
    try:
        model.config._attn_implementation = "sdpa"
    except Exception:
        pass
    results = {"attn_implementation": getattr(model.config, "_attn_implementation", None), "runs": []}
    gen = torch.Generator(device=DEV).manual_seed(1)

    def prefill(n):
        ids = torch.randint(0, cfg.vocab_size, (1, n), device=DEV, generator=gen)
        sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            # the base model with a KV cache (as pipefill keeps one), then lm_head on the last position only:
            # full-sequence logits at 64K would be 33 GB of float32
            out = model.model(input_ids=ids, use_cache=True)
            model.lm_head(out.last_hidden_state[:, -1:])
        sync()
        dt = time.perf_counter() - t0
        del out
        return dt

    prefill(1024)  # warm-up: cuBLAS/cuDNN heuristics, allocator
    for n in lengths:
        if time.monotonic() > t_end:
            results["runs"].append({"tokens": n, "error": "skipped: deadline"})
            continue
        try:
            dt = prefill(n)
            results["runs"].append({"tokens": n, "seconds": dt, "tokens_per_s": n / dt,
                                    "tflops": llama_flops(n, EIGHT_B) / dt / 1e12})
        except Exception as e:  # out of memory at 64K must not lose the shorter lengths
            results["runs"].append({"tokens": n, "error": repr(e)[:500]})
        if DEV == "cuda":
            torch.cuda.empty_cache()
    return results


def torch_main(argv):
    kind = argv[0]
    try:
        if kind == "torch-env":
            r = torch_env_info()
        elif kind == "torch-gemm":
            r = torch_gemm_peak(int(argv[1]), int(argv[2]))
        elif kind == "torch-hf-parity":
            r = torch_hf_parity(argv[1], json.loads(argv[2]), int(argv[3]), argv[4])
        elif kind == "torch-hf-throughput":
            r = torch_hf_throughput(json.loads(argv[1]), float(argv[2]))
        else:
            raise SystemExit("unknown child step " + kind)
        print(json.dumps(r))
        return 0
    except Exception:
        traceback.print_exc()
        return 1


# ---------------------------------------------------------------------------------------------- the check

class Check:
    def __init__(self, bundle, deadline_s, out_dir):
        self.bundle = os.path.abspath(bundle)
        self.deadline = Deadline(deadline_s)
        # "complete" stays false until finish(): a report that comes back without it was cut off
        self.report = {"check": "pipefill GPU check (tools/gpu-check)", "started_utc": utc_now(), "complete": False,
                       "steps": {}, "checks": {}, "throughput": {}, "goals": {}}
        self.work = os.environ.get("PIPEFILL_CHECK_WORK") or tempfile.mkdtemp(prefix="pipefill-gpu-check-")
        os.makedirs(self.work, exist_ok=True)
        # the report and the progress file go where the GPU host's output is returned from ($OUT); without
        # one, into the work directory
        self.out_dir = os.path.abspath(out_dir or self.work)
        self.goldens = os.path.join(self.bundle, "goldens")
        with open(os.path.join(self.goldens, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.report["bundle"] = {"built": self.manifest.get("built"), "commit": self.manifest.get("commit")}
        self.env = dict(os.environ)
        self.env["PIPEFILL_JAVACPP_CACHE"] = os.path.join(self.work, "javacpp-cache")
        self.env["HOME"] = self.env.get("HOME") or self.work  # the cubin cache lives under ~/.cache/pipefill
        # the attention implementation every pipefill step uses (CudaStage.AttentionChoice); the default is the
        # worker's own default
        self.attention = os.environ.get("PIPEFILL_CHECK_ATTENTION", "")
        if self.attention:
            self.env["PIPEFILL_JVM_OPTS"] = attention_opts(self.attention)
        self.report["attention"] = self.attention or "worker default"
        self.models = {}
        # dry runs on a machine without a GPU (the check's own plumbing, against the goldens): another
        # launcher with OpenBLAS, and the cpu backend in place of cuda
        self.launcher = os.environ.get("PIPEFILL_CHECK_LAUNCHER") or os.path.join(self.bundle, "pipefill")
        self.backend = os.environ.get("PIPEFILL_CHECK_BACKEND", "cuda")
        if self.backend != "cuda":
            self.report["dry_run"] = "backend %s via %s: not a GPU result" % (self.backend, self.launcher)

    def write_report(self):
        """The report as it stands, into the output directory (atomically); a failed write is logged, not fatal."""
        self.report["written_utc"] = utc_now()
        try:
            write_atomically(self.out_dir, REPORT_NAME, json.dumps(self.report, indent=2, default=str) + "\n")
        except OSError as e:
            log("could not write %s: %s" % (os.path.join(self.out_dir, REPORT_NAME), e))

    def step(self, name, fn):
        """Runs one step; any exception becomes its recorded error, and the check goes on. The report is written
        as the step starts (naming it in running_step) and as it ends (with its result), so that a check cut off
        during the step returns the steps before it and says which one was running."""
        if name in SKIP:
            self.report["steps"][name] = {"ok": False, "error": "skipped: PIPEFILL_CHECK_SKIP"}
            return self.report["steps"][name]
        t0 = time.monotonic()
        log("%s (%.0f s left)" % (name, self.deadline.left()))
        self.report["running_step"] = {"name": name, "started_utc": utc_now(),
                                       "budget_left_s": round(self.deadline.left(), 1)}
        self.write_report()
        try:
            r = fn()
        except Exception as e:
            r = {"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}
        r.setdefault("seconds", time.monotonic() - t0)
        self.report["steps"][name] = strip(r)
        self.report.pop("running_step", None)
        log("%s: %s" % (name, "ok" if r.get("ok") else "FAILED " + str(r.get("error", ""))[:300]))
        self.write_report()
        return r

    def pipefill(self, args, timeout, env=None):
        return run_cmd([self.launcher] + args, self.deadline.cap(timeout), env=env or self.env)

    def python_child(self, args, timeout):
        r = run_cmd([sys.executable, os.path.abspath(__file__)] + args, self.deadline.cap(timeout), env=self.env)
        if r["ok"]:
            try:
                r["result"] = json.loads(r["stdout"].strip().splitlines()[-1])
            except (ValueError, IndexError) as e:
                r.update(ok=False, error="unreadable child output: %s" % e)
        return r

    # -- steps

    def env_step(self):
        libs = locate_libraries()
        self.env["LD_LIBRARY_PATH"] = libs["ld_library_path"]
        r = {"ok": not libs["missing"], "libraries": libs}
        if libs["missing"]:
            r["error"] = "missing: " + ", ".join(libs["missing"])
        smi = run_cmd(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm",
                       "--format=csv,noheader"], 20)
        r["nvidia_smi"] = (smi.get("stdout") or smi.get("error") or "").strip()
        t = self.python_child(["torch-env"], 90)
        r["torch"] = t.get("result") or {"error": t.get("error")}
        java = run_cmd([os.path.join(self.bundle, "jre", "bin", "java"), "-version"], 30)
        r["java"] = (java.get("stderr_tail") or "").strip().splitlines()[:1]
        self.report["host"] = {"nvidia_smi": r["nvidia_smi"], "torch": r["torch"], "java": r["java"]}
        return r

    def regenerate(self, name):
        m = self.manifest["models"][name]
        d = os.path.join(self.work, "models", name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        r = self.pipefill(["model", "create", "--preset", m["preset"], "--arch", m["arch"], "--seed", str(m["seed"]),
                           "--out", d], 150)
        if not r["ok"]:
            return r
        got = sha256(os.path.join(d, "model.safetensors"))
        r["model_sha256_matches"] = got == m["model_sha256"]
        r["config_sha256_matches"] = sha256(os.path.join(d, "config.json")) == m["config_sha256"]
        if not (r["model_sha256_matches"] and r["config_sha256_matches"]):
            r.update(ok=False, error="the regenerated %s model differs from the one the goldens were computed on "
                                     "(model %s, config %s)" % (name, got, m["config_sha256"]))
            return r
        # the bundle leaves out DJL's tokenizers (18 MB of natives): prompts are token ids, and without
        # tokenizer.json pipefill does not try to decode the generated tokens. transformers needs none either.
        for f in ("tokenizer.json", "tokenizer_config.json"):
            p = os.path.join(d, f)
            if os.path.exists(p):
                os.remove(p)
        self.models[name] = d
        return r

    def prompt(self, name):
        with open(os.path.join(self.goldens, name)) as f:
            return [int(x) for x in f.read().replace(",", " ").split()]

    def cuda_prefill(self, label, model_args, prompt_file, chunk, timeout):
        logits = os.path.join(self.work, label + ".logits.f32")
        r = self.pipefill(["prefill"] + model_args + ["--backend", self.backend, "--token-ids-file",
                                                      os.path.join(self.goldens, prompt_file), "--chunk", str(chunk),
                                                      "--max-new-tokens", str(self.manifest["new_tokens"]),
                                                      "--json", "--quiet", "--logits-out", logits], timeout)
        if r["ok"]:
            r["json"] = json.loads(r["stdout"])
            r["logits_file"] = logits
        return r

    def parity_vs_cpu(self, golden):
        g = self.manifest["goldens"][golden]
        if "random_weights" in g:
            model_args = ["--model", g["random_weights"], "--random-weights", "--weight-seed", str(g["weight_seed"])]
            prompt_file = g["prompt"]
        else:
            if g["model"] not in self.models:
                return {"ok": False, "error": "skipped: the %s model was not regenerated" % g["model"]}
            model_args = ["--model", self.models[g["model"]]]
            prompt_file = self.manifest["models"][g["model"]]["prompt"]
        n = len(self.prompt(prompt_file))
        r = self.cuda_prefill("cuda-" + golden, model_args, prompt_file, n, 180)
        if not r["ok"]:
            return r
        with open(os.path.join(self.goldens, g["json"])) as f:
            cpu = json.load(f)
        c = compare(read_f32(r["logits_file"]), read_f32(os.path.join(self.goldens, g["logits"])), REL_TOL)
        c["greedy_tokens"] = r["json"]["generated_tokens"]
        c["greedy_tokens_cpu"] = cpu["generated_tokens"]
        c["greedy_match"] = c["greedy_tokens"] == c["greedy_tokens_cpu"]
        c["ttft_ms"] = r["json"].get("ttft_ms")
        c["seconds"] = r["seconds"]
        self.report["checks"]["parity_cuda_vs_cpu_" + golden] = c
        return c

    def chunked(self):
        if "small" not in self.models:
            return {"ok": False, "error": "skipped: the small model was not regenerated"}
        prompt_file = self.manifest["models"]["small"]["prompt"]
        whole = os.path.join(self.work, "cuda-small.logits.f32")
        if not os.path.exists(whole):
            return {"ok": False, "error": "skipped: no unchunked CUDA run of small to compare with"}
        r = self.cuda_prefill("cuda-small-chunk64", ["--model", self.models["small"]], prompt_file, 64, 120)
        if not r["ok"]:
            return r
        c = compare(read_f32(r["logits_file"]), read_f32(whole), CHUNKED_TOL)
        c["chunks"] = len(r["json"]["chunks"])
        self.report["checks"]["chunked64_vs_unchunked_cuda_small"] = c
        return c

    def hf_parity(self, name):
        if name not in self.models:
            return {"ok": False, "error": "skipped: the %s model was not regenerated" % name}
        ids = self.prompt(self.manifest["models"][name]["prompt"])
        out = os.path.join(self.work, "hf-%s.logits.f32" % name)
        r = self.python_child(["torch-hf-parity", self.models[name], json.dumps(ids),
                               str(self.manifest["new_tokens"]), out], 150)
        if not r["ok"]:
            return r
        hf = read_f32(out)
        golden = self.manifest["goldens"][name]
        result = {"hf_greedy_tokens": r["result"]["greedy_tokens"],
                  "attn_implementation": r["result"].get("attn_implementation"),
                  # context: how far transformers' own BF16 run is from the float32 CPU reference
                  "hf_vs_cpu": compare(hf, read_f32(os.path.join(self.goldens, golden["logits"])), REL_TOL)}
        cuda = os.path.join(self.work, "cuda-%s.logits.f32" % name)
        if os.path.exists(cuda):
            result.update(compare(read_f32(cuda), hf, REL_TOL))
        else:
            result.update(ok=False, error="no CUDA run of %s to compare with" % name)
        self.report["checks"]["parity_cuda_vs_transformers_" + name] = result
        return result

    def java_probe(self, name, main_class, timeout):
        """A probe main class: JSON lines on stdout, exit 0 when all its cases pass."""
        r = run_cmd([os.path.join(self.bundle, "jre", "bin", "java"), "-Xss4m",
                     "-Dorg.bytedeco.javacpp.cachedir=" + self.env["PIPEFILL_JAVACPP_CACHE"],
                     "-XX:ErrorFile=" + os.path.join(self.work, name + ".hs_err.log"),
                     "-cp", os.path.join(self.bundle, "lib", "*"), main_class], self.deadline.cap(timeout), env=self.env)
        self.report["checks"][name] = json_lines(r.get("stdout"))
        return r

    def attention_kernels(self):
        """attention_probe.py per variant, each in its own process: a kernel that faults poisons its CUDA context."""
        cubins = sorted(glob.glob(os.path.join(self.bundle, "kernels", "*.cubin")))
        if not cubins:
            return {"ok": False, "error": "skipped: the bundle carries no kernel cubins (no nvcc where it was built)"}
        results = {}
        for i, variant in enumerate(ATTENTION_PROBE_VARIANTS):
            # PyTorch's SDPA on the whole causal 64K, the yardstick, timed once
            cmd = [sys.executable, os.path.join(self.bundle, "attention_probe.py")] + (["--sdpa"] if i == 0 else [])
            r = run_cmd(cmd + cubins + [variant], self.deadline.cap(90), env=self.env)
            results[variant] = {"ok": r["ok"], "seconds": r["seconds"], "lines": json_lines(r.get("stdout"))}
            if not r["ok"]:
                results[variant].update(error=r.get("error"), stderr_tail=r.get("stderr_tail"))
        self.report["checks"]["attention_kernels"] = results
        r = {"ok": all(v["ok"] for v in results.values()), "variants": {k: v["ok"] for k, v in results.items()}}
        if not r["ok"]:
            failed = [k for k, v in results.items() if not v["ok"]]
            # a kernel's wrong answers show as failed cases; a crash or timeout as the child's error
            r["error"] = "; ".join("%s: %s" % (k, results[k].get("error") or "%d of %d cases failed" % (
                sum(1 for x in results[k]["lines"] if x.get("ok") is False), len(results[k]["lines"])))
                                   for k in failed)[:1500]
        return r

    def pp2(self):
        """Two stages on the one GPU (in-process pipeline, device-local link), chunked, against unchunked PP=1."""
        if "small" not in self.models:
            return {"ok": False, "error": "skipped: the small model was not regenerated"}
        whole = os.path.join(self.work, "cuda-small.logits.f32")
        if not os.path.exists(whole):
            return {"ok": False, "error": "skipped: no unchunked CUDA run of small to compare with"}
        logits = os.path.join(self.work, "cuda-small-pp2.logits.f32")
        prompt_file = os.path.join(self.goldens, self.manifest["models"]["small"]["prompt"])
        r = self.pipefill(["prefill", "--model", self.models["small"], "--backend", self.backend, "--pp", "2",
                           "--in-process", "--token-ids-file", prompt_file, "--chunk", "64", "--max-new-tokens",
                           str(self.manifest["new_tokens"]), "--json", "--quiet", "--logits-out", logits], 150)
        if not r["ok"]:
            return r
        c = compare(read_f32(logits), read_f32(whole), CHUNKED_TOL)
        j = json.loads(r["stdout"])
        c["greedy_tokens"] = j.get("generated_tokens")
        self.report["checks"]["pp2_chunk64_vs_pp1_unchunked_cuda_small"] = c
        return c

    def gemm_peak(self):
        r = self.python_child(["torch-gemm", str(GEMM_N), "20"], 90)
        if r["ok"]:
            self.report["throughput"]["bf16_gemm_peak_tflops"] = r["result"]["tflops"]
        return r

    def pipefill_throughput(self, n, attention=None):
        env = self.env
        if attention is not None:
            # another attention implementation (-Dpipefill.cuda.attention): the CUDA-core baseline, or a candidate
            env = dict(self.env, PIPEFILL_JVM_OPTS=attention_opts(attention))
        logits = os.path.join(self.work, "8b-shape-%d-%s.logits.f32" % (n, attention or "default"))
        r = self.pipefill(["prefill", "--model", "8b-shape", "--random-weights", "--random-tokens", str(n), "--chunk",
                           str(THROUGHPUT_CHUNK), "--backend", self.backend, "--kv-budget", "1t", "--json", "--quiet",
                           "--logits-out", logits], {8192: 120, 32768: 180, 65536: 240}.get(n, 240), env)
        row = {"tokens": n, "attention": attention or self.report["attention"]}
        default = os.path.join(self.work, "8b-shape-%d-default.logits.f32" % n)
        if r["ok"] and attention is not None and os.path.exists(default):
            # the same weights and tokens through the default attention: the other kernel's parity at this length
            # (random weights leave near-ties among the top logits, so the top-1 is reported, not required)
            c = compare(read_f32(logits), read_f32(default), REL_TOL)
            if "rel_error" in c:
                c["ok"] = c["rel_error"] <= REL_TOL
                c["top1_match"] = c["top1"] == c["top1_reference"]
            row["logits_vs_default_attention"] = c
        if r["ok"]:
            j = json.loads(r["stdout"])
            s = j["ttft_ms"] / 1e3
            row.update(ttft_s=s, tokens_per_s=n / s, tflops=llama_flops(n, EIGHT_B) / s / 1e12,
                       pipefill_reported_gflops=j.get("prefill_gflops"), process_seconds=r["seconds"])
            peak = self.report["throughput"].get("bf16_gemm_peak_tflops")
            if peak:
                row["mfu_of_measured_peak"] = row["tflops"] / peak
            # each chunk's time on the stage (the timeline's), and what its attention actually ran on
            row["chunks"] = [{"offset": c.get("offset"), "size": c.get("size"), "ms": c.get("ms")}
                             for c in j.get("chunks") or []]
            row.update(attention_fields(j, attention or self.attention or None))
            if row.get("fell_back"):
                log("throughput %d (%s): attention fell back: %s" % (n, row["attention"], json.dumps(
                    row["attention_used"])))
        else:
            row["error"] = r.get("error")
        self.report["throughput"].setdefault("pipefill_cuda" if attention is None else "pipefill_cuda_" + attention,
                                             []).append(row)
        r["row"] = row
        return r

    def hf_throughput(self):
        budget = self.deadline.cap(200)
        r = self.python_child(["torch-hf-throughput", json.dumps(THROUGHPUT_LENGTHS), str(max(0, budget - 60))],
                              budget)
        if r["ok"]:
            runs = r["result"]["runs"]
            peak = self.report["throughput"].get("bf16_gemm_peak_tflops")
            for row in runs:
                if peak and "tflops" in row:
                    row["mfu_of_measured_peak"] = row["tflops"] / peak
            self.report["throughput"]["transformers_sdpa_bf16"] = runs
            self.report["throughput"]["transformers_attn_implementation"] = r["result"]["attn_implementation"]
        return r

    def goals(self):
        tp = self.report["throughput"]
        ours = {row["tokens"]: row for row in tp.get("pipefill_cuda", []) if "tokens_per_s" in row}
        theirs = {row["tokens"]: row for row in tp.get("transformers_sdpa_bf16", []) if "tokens_per_s" in row}
        g = {}
        for n in (32768, 65536):
            if n in ours and n in theirs:
                ratio = ours[n]["tokens_per_s"] / theirs[n]["tokens_per_s"]
                g["speed_vs_transformers_%dk" % (n // 1024)] = {"ratio": ratio, "goal": 1.0, "met": ratio >= 1.0,
                                                                "attention_used": ours[n].get("attention_used")}
            else:
                g["speed_vs_transformers_%dk" % (n // 1024)] = {"met": None, "error": "a run is missing"}
        if 32768 in ours and "mfu_of_measured_peak" in ours[32768]:
            m = ours[32768]["mfu_of_measured_peak"]
            g["mfu_32k"] = {"value": m, "goal": 0.45, "met": m >= 0.45}
        else:
            g["mfu_32k"] = {"met": None, "error": "no 32K run or no measured peak"}
        self.report["goals"] = g

    def run(self):
        self.step("environment", self.env_step)
        for name in ("tiny", "small"):
            self.step("regenerate_" + name, lambda name=name: self.regenerate(name))
        for golden in ("tiny", "small", "tiny-random"):
            self.step("parity_cuda_vs_cpu_" + golden, lambda golden=golden: self.parity_vs_cpu(golden))
        self.step("chunked_vs_unchunked", self.chunked)
        self.step("pp2_device_local", self.pp2)
        for name, main_class, timeout, _ in PROBES:
            self.step(name, lambda main_class=main_class, timeout=timeout, name=name:
                      self.java_probe(name, main_class, timeout))
        self.step("probe_attention_kernels", self.attention_kernels)
        for name in ("tiny", "small"):
            self.step("parity_cuda_vs_transformers_" + name, lambda name=name: self.hf_parity(name))
        if not any(self.report["steps"].get("parity_cuda_vs_cpu_" + g, {}).get("ok") for g in ("tiny", "small")):
            # a backend that computes wrong logits is not worth timing: leave the device time to a rerun
            for name in ("bf16_gemm_peak", "throughput_pipefill_8k", "throughput_pipefill_8k_cuda_core_attention",
                         "throughput_transformers",
                         "throughput_pipefill_32k", "throughput_pipefill_64k"):
                self.report["steps"][name] = {"ok": False, "error": "skipped: no CUDA parity check passed"}
            return self.finish()
        self.step("bf16_gemm_peak", self.gemm_peak)
        # pipefill's 8K first (cheap, and it says whether the long runs are worth their time), then
        # transformers at every length, then pipefill's long runs, each skipped if a shorter one failed
        first = self.step("throughput_pipefill_8k", lambda: self.pipefill_throughput(8192))
        self.step("throughput_pipefill_8k_cuda_core_attention", lambda: self.pipefill_throughput(8192, "cuda-cores"))
        self.step("throughput_transformers", self.hf_throughput)
        ok = first.get("ok")
        for n in (32768, 65536):
            if ok:
                ok = self.step("throughput_pipefill_%dk" % (n // 1024), lambda n=n: self.pipefill_throughput(n)).get("ok")
            else:
                self.report["steps"]["throughput_pipefill_%dk" % (n // 1024)] = {
                    "ok": False, "error": "skipped: a shorter pipefill throughput run failed"}
        # the same lengths with another attention implementation, for the comparison in docs/PERFORMANCE.md
        for other in filter(None, os.environ.get("PIPEFILL_CHECK_ALSO_ATTENTION", "").split(",")):
            for n in (32768, 65536):
                INFORMATIONAL.add("throughput_pipefill_%dk_%s" % (n // 1024, other))
                self.step("throughput_pipefill_%dk_%s" % (n // 1024, other),
                          lambda n=n, other=other: self.pipefill_throughput(n, other))
        return self.finish()

    def finish(self):
        self.goals()
        steps = self.report["steps"]
        self.report["summary"] = {
            "passed": sorted(k for k, v in steps.items() if v.get("ok")),
            "failed": sorted(k for k, v in steps.items() if not v.get("ok")),
            "informational": sorted(INFORMATIONAL),
            "all_checks_passed": all(v.get("ok") for k, v in steps.items() if k not in INFORMATIONAL),
        }
        self.report["finished_utc"] = utc_now()
        self.report["complete"] = True
        return self.report


def main(argv):
    if argv and argv[0].startswith("torch-"):
        return torch_main(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["run", "libs"], help="run: the whole check; libs: print the library search")
    ap.add_argument("--bundle", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--deadline-s", type=float, default=450.0,
                    help="the whole check's budget; steps are cut to fit (default 450 s: under 8 minutes)")
    ap.add_argument("--out", default=os.environ.get("OUT"),
                    help="where report.json and progress.log are written as the check goes (default: $OUT, the "
                         "directory the GPU host returns; without it, the work directory)")
    a = ap.parse_args(argv)
    if a.command == "libs":
        print(json.dumps(locate_libraries(), indent=2))
        return 0
    global CURRENT, PROGRESS
    signal.signal(signal.SIGTERM, on_term)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        PROGRESS = os.path.join(a.out, PROGRESS_NAME)
    check = None
    try:
        check = Check(a.bundle, a.deadline_s, a.out)
        PROGRESS = os.path.join(check.out_dir, PROGRESS_NAME)
        CURRENT = check
        report = check.run()
    except Exception as e:  # even a broken bundle yields a report
        report = (check.report if check else {}) or {}
        report["fatal"] = "%s: %s" % (type(e).__name__, e)
        report["trace"] = traceback.format_exc()[-3000:]
    if check is not None:
        check.write_report()  # the final one: "complete": true unless a fatal error cut the run short
    text = json.dumps(report, indent=2, default=str)
    if check is None and a.out:
        try:
            write_atomically(a.out, REPORT_NAME, text + "\n")
        except OSError as e:
            log("could not write %s: %s" % (os.path.join(a.out, REPORT_NAME), e))
    print(text)
    return 0 if report.get("summary", {}).get("all_checks_passed") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
