package io.pipefill.model.pipeline;

/**
 * What one rank did with one chunk (or decode step), in ms from the run's start on a clock shared by all
 * ranks. The send is posted at {@code sendPostedMs} and completes at {@code sendDoneMs}; the stage starts
 * its next chunk right after posting, so a later chunk whose compute starts before {@code sendDoneMs}
 * shows the overlap.
 */
public record StageEvent(int request, int rank, int stage, int tpRank, boolean decode, int chunk, int offset, int size,
                         double startMs, double recvWaitMs, double computeStartMs, double computeMs,
                         double sendPostedMs, double sendDoneMs) {

    public double sendMs() {
        return sendDoneMs < 0 ? 0 : sendDoneMs - sendPostedMs;
    }

    public StageEvent withSendDone(double doneMs) {
        return new StageEvent(request, rank, stage, tpRank, decode, chunk, offset, size, startMs, recvWaitMs,
                computeStartMs, computeMs, sendPostedMs, doneMs);
    }
}
