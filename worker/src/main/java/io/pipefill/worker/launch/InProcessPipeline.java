package io.pipefill.worker.launch;

import io.pipefill.model.pipeline.RankReport;
import io.pipefill.model.pipeline.RunCollector;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.backends.Placement;
import io.pipefill.worker.pipeline.PipelineResult;
import io.pipefill.worker.pipeline.PipelineRunner;
import io.pipefill.worker.pipeline.PipelineSpec;
import io.pipefill.worker.pipeline.RunClock;
import io.pipefill.worker.pipeline.StageWorker;
import io.pipefill.worker.comm.ActivationLink;
import io.pipefill.worker.comm.InProcessTransport;
import io.pipefill.worker.comm.Transport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Runs every rank of a pipeline as a thread of this process over the in-memory transport (tests, debugging,
 * and several CUDA stages sharing one GPU).
 */
public final class InProcessPipeline implements PipelineRunner {
    private final Backends.Kind backend;

    public InProcessPipeline(Backends.Kind backend) {
        this.backend = backend;
    }

    /**
     * With {@code backend} cuda, every rank is a stage on GPU 0 with its share of the memory, and hidden states
     * move device to device over the device-local link; the in-memory transport still carries the control
     * messages, barriers and decode tokens. Tensor parallelism needs a device all-reduce (NCCL), so cuda runs
     * tp 1 only.
     */
    @Override
    public PipelineResult run(PipelineSpec spec) {
        int world = spec.topology().worldSize();
        if (backend == Backends.Kind.cuda && spec.topology().tp() > 1) {
            throw new IllegalArgumentException("an in-process CUDA pipeline runs tp 1 only (its stages share one GPU "
                    + "and tensor parallelism needs NCCL, which refuses two ranks on one GPU); got tp " + spec.topology().tp());
        }
        InProcessTransport.Fabric fabric = new InProcessTransport.Fabric(world, spec.peerTimeout());
        try (ActivationLink.Fabric links = backend == Backends.Kind.cuda
                ? Backends.deviceLocalLinks(world, spec.peerTimeout()) : null) {
            return run(spec, world, fabric, links);
        }
    }

    private PipelineResult run(PipelineSpec spec, int world, InProcessTransport.Fabric fabric, ActivationLink.Fabric links) {
        RunCollector collector = new RunCollector(world, spec.requests().size());
        CountDownLatch loaded = new CountDownLatch(world);
        RunClock[] clock = new RunClock[1];
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<?>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(pool.submit(() -> {
                    Transport t = fabric.endpoint(rank);
                    ActivationLink link = links != null ? links.endpoint(rank) : ActivationLink.hostStaging(t);
                    new StageWorker(t, link, Placement.sharing(backend, links != null ? world : 1), spec, report -> {
                        collector.accept(report);
                        if (report instanceof RankReport.Loaded) {
                            loaded.countDown();
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
            return PipelineResult.of(spec, collector.finish());
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
