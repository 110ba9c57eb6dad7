package io.pipefill.worker.cuda;

/**
 * The one list of CUDA code that has not been verified on a GPU, and the one switch,
 * {@code -Dpipefill.cuda.experimental=true}, that a run must set to choose the attention options still behind it.
 * The verified path (single-process prefill: NVRTC kernels, the flash attention kernel, cuBLASLt GEMMs, see
 * tools/gpu-check/README.md, "What was verified") never touches any of it and does not need the switch.
 *
 * <p>Not verified on a GPU:
 * <ul>
 *   <li>multi-process CUDA pipelines over NCCL, {@link NcclCommunicator}, {@link NcclLink}, {@link NcclRank} and
 *       CudaStage's device all-reduce of TP partial sums ({@code prefill --backend cuda --pp P --tp T}): only
 *       NcclProbe's one-rank cases have run (docs/PERFORMANCE.md, run 5); the rest needs a GPU per rank.</li>
 *   <li>rope.cu reading the stage's RoPE tables by position ({@link RopeTable}, uploaded once at load instead of per
 *       chunk): on every CUDA path; the GPU check's parity steps (CUDA against the CPU, chunked against unchunked)
 *       are its first check.</li>
 *   <li>{@link CudnnAttention}'s plans built before the run ({@code prepare}), pinned, the others in a bounded
 *       {@link PlanCache} whose evictions release the plan after a stream sync, and refusals per shape family:
 *       CudnnAttentionProbe's {@code plan_cache} line is its first check (behind the switch with the rest of
 *       cuDNN attention).</li>
 * </ul>
 * They are chosen by the layout (PP or TP above 1 on the CUDA backend), not by an option, so they run without the
 * switch; they are listed here so that this is the one place to look.
 *
 * <p>Verified on an H200 on 2026-12-04 (runs 5 and 6), still behind the switch because they are options whose
 * default issue 17 decides: the Hopper wgmma attention kernels, flash_attention_sm90.cu
 * ({@code -Dpipefill.cuda.attention=wgmma} or {@code wgmma-overlap}: correct in the attention probe and end to end,
 * 0.80–0.82× transformers), and cuDNN's fused attention through the graph API, {@link CudnnAttention}
 * ({@code -Dpipefill.cuda.attention=cudnn}: correct, 0.87× transformers at 64K). Verified and out of this list:
 * stages of one process sharing a GPU, {@link DeviceLocalLink} and {@link PoolShare} (pp2_device_local, run 5).
 * The GPU check (tools/gpu-check) and the probes in the gpu-probes module are the first checks of what is listed:
 * move an item out once a GPU report shows it passing.
 */
final class Experimental {
    /** The system property that lets a run choose an experimental option. */
    static final String PROPERTY = "pipefill.cuda.experimental";

    private Experimental() {
    }

    static boolean enabled() {
        return Boolean.getBoolean(PROPERTY);
    }

    /** Fails, naming the switch, unless it is set: {@code what} is the option that asked for experimental code. */
    static void require(String what) {
        if (!enabled()) {
            throw new IllegalArgumentException(what + " selects code not yet verified on a GPU (experimental);"
                    + " add -D" + PROPERTY + "=true to use it anyway (see tools/gpu-check/README.md)");
        }
    }
}
