package io.pipefill.model.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.agent.RunReport;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Rank reports on the wire: every kind round-trips, its JSON type is its kind(), an unknown type is refused. */
class RankReportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static List<RankReport> everyKind() {
        StageEvent e = new StageEvent(0, 1, 1, 0, false, 0, 0, 64, 1.0, 0.5, 1.5, 3.0, 4.5, 5.0);
        return List.of(new RankReport.Loaded(1, 1000, 200),
                new ChunkingDecision(true, 64, 0.75, new LatencyFit(1e-6, 0.01, 0.5), null, new double[] {16, 32},
                        new double[] {0.2, 0.4}, 12.0),
                new RankReport.Progress(0, 1, 4, 128, 256),
                new RequestResult(0, new float[] {0.25f, -1f}, new int[] {7, 8}, 10.0, 12.0),
                new RankReport.RankTimeline(1, List.of(e)),
                new RankReport.Done(1),
                new RankReport.Failed(1, "peer rank 0 closed the socket"),
                new RankReport.Token(0, 3, 42));
    }

    @Test
    void everyKindRoundTripsAndItsTypeIsItsKind() throws Exception {
        List<RankReport> all = everyKind();
        assertEquals(RankReport.class.getPermittedSubclasses().length, all.size(), "one example of every kind");
        for (RankReport r : all) {
            JsonNode tree = JSON.valueToTree(new RunReport("w1", 1, 3, r));
            assertEquals(r.kind(), tree.path("report").path("type").asText(), r.getClass().getSimpleName());
            RunReport back = JSON.treeToValue(tree, RunReport.class);
            assertEquals(r.getClass(), back.report().getClass());
            assertEquals(3, back.seq());
            assertEquals(JSON.writeValueAsString(r), JSON.writeValueAsString(back.report()));
        }
        RequestResult result = (RequestResult) JSON.readValue(JSON.writeValueAsString(all.get(3)), RankReport.class);
        assertArrayEquals(new float[] {0.25f, -1f}, result.lastLogits());
        assertInstanceOf(RankReport.RankTimeline.class, JSON.readValue(JSON.writeValueAsString(all.get(4)), RankReport.class));
    }

    @Test
    void anUnknownTypeIsRefused() {
        InvalidTypeIdException e = assertThrows(InvalidTypeIdException.class,
                () -> JSON.readValue("{\"type\":\"finished\",\"rank\":0}", RankReport.class));
        assertEquals("finished", e.getTypeId());
    }
}
