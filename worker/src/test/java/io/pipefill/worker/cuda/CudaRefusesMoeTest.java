package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend refuses mixture-of-experts and latent-attention models before touching a device, saying what
 * is missing.
 */
class CudaRefusesMoeTest {
    @Test
    void namesTheMissingPartAndTheBackendThatHasIt() {
        var e = assertThrows(UnsupportedOperationException.class,
                () -> CudaBackend.checkSupported(ModelPreset.TINY.config(Architecture.QWEN3_MOE)));
        assertTrue(e.getMessage().contains("Qwen3MoeForCausalLM needs a mixture-of-experts MLP"), e.getMessage());
        assertTrue(e.getMessage().contains("--backend cpu"), e.getMessage());
        CudaBackend.checkSupported(ModelPreset.TINY.config(Architecture.QWEN3)); // dense: accepted
        var mla = assertThrows(UnsupportedOperationException.class,
                () -> CudaBackend.checkSupported(ModelPreset.TINY.config(Architecture.DEEPSEEK_V3)));
        assertTrue(mla.getMessage().contains("DeepseekV3ForCausalLM needs multi-head latent attention"), mla.getMessage());
        assertTrue(mla.getMessage().contains("--backend cpu"), mla.getMessage());
    }
}
