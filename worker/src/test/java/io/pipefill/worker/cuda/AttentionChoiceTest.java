package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pipefill.worker.cuda.CudaStage.AttentionChoice;
import java.util.EnumSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AttentionChoiceTest {
    @AfterEach
    void clear() {
        System.clearProperty("pipefill.cuda.attention");
        System.clearProperty(Experimental.PROPERTY);
    }

    @Test
    void flashByDefaultAndEveryChoiceByItsPropertyValue() {
        assertEquals(AttentionChoice.FLASH, AttentionChoice.fromSystemProperty());
        System.setProperty(Experimental.PROPERTY, "true");
        for (AttentionChoice c : AttentionChoice.values()) {
            System.setProperty("pipefill.cuda.attention", c.propertyValue());
            assertEquals(c, AttentionChoice.fromSystemProperty());
        }
        assertEquals("cuda-cores", AttentionChoice.CUDA_CORES.propertyValue());
        assertEquals("wgmma", AttentionChoice.WGMMA.propertyValue());
        assertEquals("wgmma-overlap", AttentionChoice.WGMMA_OVERLAP.propertyValue());
    }

    @Test
    void theVerifiedChoicesNeedNoSwitch() {
        for (AttentionChoice c : EnumSet.of(AttentionChoice.FLASH, AttentionChoice.CUDA_CORES)) {
            assertFalse(c.experimental, c.toString());
            System.setProperty("pipefill.cuda.attention", c.propertyValue());
            assertEquals(c, AttentionChoice.fromSystemProperty());
        }
    }

    @Test
    void theUnverifiedChoicesAreRefusedWithoutTheExperimentalSwitch() {
        for (AttentionChoice c : EnumSet.of(AttentionChoice.CUDNN, AttentionChoice.WGMMA, AttentionChoice.WGMMA_OVERLAP)) {
            assertTrue(c.experimental, c.toString());
            System.setProperty("pipefill.cuda.attention", c.propertyValue());
            String msg = assertThrows(IllegalArgumentException.class, AttentionChoice::fromSystemProperty).getMessage();
            assertTrue(msg.contains("-Dpipefill.cuda.attention=" + c.propertyValue())
                    && msg.contains("-Dpipefill.cuda.experimental=true"), msg);
            System.setProperty(Experimental.PROPERTY, "false");
            assertThrows(IllegalArgumentException.class, AttentionChoice::fromSystemProperty);
            System.clearProperty(Experimental.PROPERTY);
        }
    }

    @Test
    void anUnknownChoiceIsNamedWithWhatIsAllowed() {
        System.setProperty("pipefill.cuda.attention", "fa3");
        String msg = assertThrows(IllegalArgumentException.class, AttentionChoice::fromSystemProperty).getMessage();
        assertTrue(msg.contains("'fa3'") && msg.contains("flash, cuda-cores")
                && msg.contains("experimental cudnn, wgmma, wgmma-overlap"), msg);
    }
}
