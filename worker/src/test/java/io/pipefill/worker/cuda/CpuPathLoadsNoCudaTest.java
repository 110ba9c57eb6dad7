package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pipefill.worker.TestModels;
import io.pipefill.tokenizer.PromptTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** A CPU prefill, text tokenization included, maps no CUDA library into the process. */
class CpuPathLoadsNoCudaTest {
    @Test
    void noCudaLibraryIsMapped() throws Exception {
        Path maps = Path.of("/proc/self/maps");
        Assumptions.assumeTrue(Files.isReadable(maps), "no /proc/self/maps on this OS: check skipped");
        Path model = TestModels.committed("tiny-llama");
        int[] tokens;
        try (PromptTokenizer tok = PromptTokenizer.open(model.resolve("tokenizer.json"))) {
            tokens = tok.encode("no GPU libraries on the CPU path");
        }
        TestModels.prefill(model, tokens, 8, 2, 2);
        List<String> cuda = Files.readAllLines(maps).stream()
                .filter(l -> l.matches(".*/lib(cuda|cudart|cublas|cublasLt|nvrtc|nccl|cudnn)[^/]*\\.so.*"))
                .map(l -> l.substring(l.indexOf('/')))
                .distinct().toList();
        assertEquals(List.of(), cuda);
    }
}
