package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.cuda.CudaStage.AttentionChoice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AttentionChoiceTest {
    @AfterEach
    void clear() {
        System.clearProperty("pipefill.cuda.attention");
    }

    @Test
    void flashByDefaultAndEveryChoiceByItsPropertyValue() {
        assertEquals(AttentionChoice.FLASH, AttentionChoice.fromSystemProperty());
        for (AttentionChoice c : AttentionChoice.values()) {
            System.setProperty("pipefill.cuda.attention", c.propertyValue());
            assertEquals(c, AttentionChoice.fromSystemProperty());
        }
        assertEquals("cuda-cores", AttentionChoice.CUDA_CORES.propertyValue());
        assertEquals("wgmma", AttentionChoice.WGMMA.propertyValue());
        assertEquals("wgmma-overlap", AttentionChoice.WGMMA_OVERLAP.propertyValue());
    }

    @Test
    void anUnknownChoiceIsNamedWithWhatIsAllowed() {
        System.setProperty("pipefill.cuda.attention", "fa3");
        String msg = assertThrows(IllegalArgumentException.class, AttentionChoice::fromSystemProperty).getMessage();
        assertTrue(msg.contains("'fa3'") && msg.contains("flash, cudnn, wgmma, wgmma-overlap, cuda-cores"), msg);
    }
}
