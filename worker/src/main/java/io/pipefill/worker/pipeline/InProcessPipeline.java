package io.pipefill.worker.pipeline;

import io.pipefill.worker.transport.InProcessTransport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Runs every rank of a pipeline as a thread of this process over the in-memory transport (tests, debugging). */
public final class InProcessPipeline {
    private InProcessPipeline() {
    }

    public static PipelineResult run(PipelineSpec spec) {
        int world = spec.topology().worldSize();
        InProcessTransport.Fabric fabric = new InProcessTransport.Fabric(world, spec.peerTimeout());
        Collector collector = new Collector(spec);
        CountDownLatch loaded = new CountDownLatch(world);
        RunClock[] clock = new RunClock[1];
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<?>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(pool.submit(() -> {
                    new StageWorker(fabric.endpoint(rank), spec, new PipelineSink() {
                        @Override
                        public void loaded(int rk, long weightBytes, long kvBytes) {
                            collector.loaded(rk, weightBytes, kvBytes);
                            loaded.countDown();
                        }

                        @Override
                        public void chunking(ChunkingDecision d) {
                            collector.chunking(d);
                        }

                        @Override
                        public void result(RequestResult result) {
                            collector.result(result);
                        }

                        @Override
                        public void timeline(int rk, List<StageEvent> events) {
                            collector.timeline(rk, events);
                        }
                    }, () -> {
                        awaitQuietly(loaded, spec);
                        synchronized (clock) {
                            if (clock[0] == null) {
                                clock[0] = RunClock.startingNow();
                            }
                            return clock[0];
                        }
                    }).run();
                    return null;
                }));
            }
            for (int r = 0; r < world; r++) {
                try {
                    ranks.get(r).get(spec.peerTimeout().toMillis() * 4 + 60_000, TimeUnit.MILLISECONDS);
                } catch (Exception e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    throw new IllegalStateException(spec.topology().describe(r) + " failed: " + cause.getMessage(), cause);
                }
            }
            return collector.finish();
        } finally {
            pool.shutdownNow();
        }
    }

    private static void awaitQuietly(CountDownLatch latch, PipelineSpec spec) {
        try {
            if (!latch.await(spec.peerTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("not every rank loaded within " + spec.peerTimeout().toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the ranks to load", e);
        }
    }
}
