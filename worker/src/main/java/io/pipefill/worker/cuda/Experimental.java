package io.pipefill.worker.cuda;

/**
 * The one list of CUDA code that has not been verified on a GPU (written without one, never run or, for cuDNN,
 * not run since its fix), and the one switch, {@code -Dpipefill.cuda.experimental=true}, that a run must set to
 * choose the parts of it that are options.
 * The verified path (single-process prefill: NVRTC kernels, the flash attention kernel, cuBLASLt GEMMs, see
 * tools/gpu-check/README.md, "What was verified") never touches any of it and does not need the switch.
 *
 * <p>Not verified on a GPU:
 * <ul>
 *   <li>the Hopper wgmma attention kernels, flash_attention_sm90.cu ({@code -Dpipefill.cuda.attention=wgmma} or
 *       {@code wgmma-overlap}): accepted only with the switch;</li>
 *   <li>cuDNN's fused attention through the graph API, {@link CudnnAttention}
 *       ({@code -Dpipefill.cuda.attention=cudnn}; its first run crashed, the fix has not run): accepted only
 *       with the switch;</li>
 *   <li>stages of one process sharing a GPU, {@link DeviceLocalLink} and {@link PoolShare}
 *       ({@code prefill --backend cuda --pp N --in-process});</li>
 *   <li>multi-process CUDA pipelines over NCCL, {@link NcclCommunicator}, {@link NcclLink}, {@link NcclRank} and
 *       CudaStage's device all-reduce of TP partial sums ({@code prefill --backend cuda --pp P --tp T}).</li>
 * </ul>
 * The last two are chosen by the layout (PP or TP above 1 on the CUDA backend), not by an option, so they run
 * without the switch; they are listed here so that this is the one place to look. The GPU check
 * (tools/gpu-check) and the probes in the gpu-probes module are their first checks: move an item out of this
 * list, and drop its switch, once a GPU report shows it passing.
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
