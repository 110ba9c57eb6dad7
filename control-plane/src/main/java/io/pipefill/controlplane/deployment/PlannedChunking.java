package io.pipefill.controlplane.deployment;

import io.pipefill.model.ChunkSchedule;
import io.pipefill.model.plan.ChunkScheduleOptimizer;
import io.pipefill.model.plan.MeasuredChunkCosts;
import io.pipefill.model.sim.PipelineSimulator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * {@code chunking: planned}: each run's chunk schedule is chosen for its prompt length by shared-model's
 * {@link ChunkScheduleOptimizer} on the deployment's {@link ChunkCostCalibration} (the pipeline simulated with the
 * engine's rules on those curves, PP stages, no lm_head term), with chunks that are multiples of {@value #ALIGNMENT}
 * tokens from {@value #ALIGNMENT} up to the deployment's chunkSize (the last chunk takes the remainder), seeded with
 * the fixed schedules of {@value #ALIGNMENT}, 128, … up to chunkSize, so the result is never slower on the curves
 * than the best of those. Schedules are kept per (deployment, prompt length), so a length is optimised once, and a
 * run waits at most {@code pipefill.planned-schedule-timeout} for one (then runs on fixed chunks of chunkSize). Also the rules a planned deployment's
 * request must keep, and the chunk sizes of the calibration run that measures its curves.
 */
@Component
public class PlannedChunking {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PlannedChunking.class);
    public static final int ALIGNMENT = 64;
    /** Chunks each stage must run in a calibration for a fit of four terms (MeasuredChunkCosts needs 6). */
    static final int CALIBRATION_MIN_CHUNKS = MeasuredChunkCosts.MIN_CALIBRATION_CHUNKS; // the fit's own rule
    private static final int CACHED_LENGTHS = 512;

    private final Duration timeout;
    private final int calibrationTokens;
    private final ExecutorService optimisers = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "chunk-schedule-optimiser");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, CompletableFuture<ChunkSchedule>> schedules = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<ChunkSchedule>> eldest) {
            return size() > CACHED_LENGTHS;
        }
    };

    public PlannedChunking(@Value("${pipefill.planned-schedule-timeout:30s}") Duration timeout,
                           @Value("${pipefill.calibration-tokens:8192}") int calibrationTokens) {
        this.timeout = timeout;
        this.calibrationTokens = calibrationTokens;
    }

    /**
     * The planned schedule of a {@code prompt}-token run on {@code d}: from the cache, or optimised now (bounded by
     * the timeout; past it the run gets fixed chunks of chunkSize, and the optimisation goes on and serves the next
     * run of that length).
     */
    public ChunkSchedule schedule(Deployment d, int prompt) {
        if (d.calibration() == null) {
            throw new IllegalStateException("deployment " + d.name() + " has no chunk-cost calibration yet");
        }
        String key = d.id() + ":" + prompt;
        CompletableFuture<ChunkSchedule> f;
        synchronized (schedules) {
            f = schedules.computeIfAbsent(key, k -> CompletableFuture.supplyAsync(
                    () -> optimise(d.calibration().costs(), d.pp(), prompt, d.chunkSize()).schedule(), optimisers));
        }
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            // the run goes on fixed chunks rather than fail; the optimiser goes on and serves later runs of that length
            log.warn("deployment {}: no planned chunk schedule for {} tokens within {} s "
                    + "(pipefill.planned-schedule-timeout); this run uses fixed chunks of {}", d.name(), prompt,
                    timeout.toSeconds(), d.chunkSize());
            return ChunkSchedule.fixed(prompt, Math.min(d.chunkSize(), prompt));
        } catch (ExecutionException e) {
            synchronized (schedules) {
                schedules.remove(key, f);
            }
            throw new IllegalStateException("planning the chunk schedule for " + prompt + " tokens failed: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while planning the chunk schedule", e);
        }
    }

    /** What a planned deployment's schedule for {@code prompt} tokens is: the optimiser on these curves, as documented. */
    public static ChunkScheduleOptimizer.Result optimise(MeasuredChunkCosts costs, int pp, int prompt, int maxChunk) {
        PipelineSimulator sim = PipelineSimulator.engine(pp, costs.latency(), costs.link(), 0);
        Map<String, ChunkSchedule> seeds = new LinkedHashMap<>();
        for (int c = ALIGNMENT; c < maxChunk; c *= 2) {
            seeds.put("fixed " + c, ChunkSchedule.fixed(prompt, c));
        }
        seeds.put("fixed " + maxChunk, ChunkSchedule.fixed(prompt, maxChunk));
        return new ChunkScheduleOptimizer(sim).optimise(prompt, new ChunkScheduleOptimizer.Bounds(ALIGNMENT, ALIGNMENT,
                maxChunk), seeds);
    }

    /**
     * The calibration run's chunks: {@value #ALIGNMENT}, 128, 256, … up to {@code maxChunk}, over and over, on a
     * prompt of min(calibration tokens, maxTokens − 1), so that the fit sees small and large chunks at short and long
     * prefixes; the last chunk takes the remainder.
     */
    public List<Integer> calibrationChunks(int maxTokens, int maxChunk) {
        List<Integer> cycle = new ArrayList<>();
        for (int c = ALIGNMENT; c < maxChunk; c *= 2) {
            cycle.add(c);
        }
        cycle.add(maxChunk);
        List<Integer> sizes = new ArrayList<>();
        int left = Math.min(calibrationTokens, maxTokens - 1);
        for (int i = 0; left > 0; i++) {
            int n = Math.min(left, cycle.get(i % cycle.size()));
            sizes.add(n);
            left -= n;
        }
        return sizes;
    }

    /** Why {@code d}'s request breaks the rules of planned chunking (field → message), empty when it keeps them. */
    Map<String, String> problems(CreateDeploymentRequest r, int pp, int maxTokens) {
        Map<String, String> out = new LinkedHashMap<>();
        if (Boolean.TRUE.equals(r.dynamicChunking())) {
            out.put("dynamicChunking", "chunking planned chooses every chunk itself; leave dynamicChunking out"
                    + " (or use chunking dynamic)");
        }
        if (r.sigma() != null) {
            out.put("sigma", "σ smooths dynamic chunks only; leave it out with chunking planned");
        }
        int maxChunk = r.chunkSize() == null ? DEFAULT_MAX_CHUNK : r.chunkSize();
        if (maxChunk % ALIGNMENT != 0) {
            out.put("chunkSize", "with chunking planned it is the largest planned chunk: a multiple of " + ALIGNMENT
                    + " tokens (64, 128, … 2048 …), got " + maxChunk);
        }
        CalibrationRequest c = r.calibration();
        if (c == null && maxChunk < 4 * ALIGNMENT && !out.containsKey("chunkSize")) {
            out.put("chunkSize", "chunking planned without a calibration measures chunks of 64, 128, … chunkSize and fits"
                    + " a quadratic in the chunk length, which needs at least three sizes: chunkSize of at least "
                    + 4 * ALIGNMENT + ", got " + maxChunk + " (or give a calibration)");
        } else if (c == null) {
            int chunks = calibrationChunks(maxTokens, maxChunk).size();
            if (chunks < CALIBRATION_MIN_CHUNKS) {
                out.put("maxTokens", "chunking planned without a calibration measures the chunk costs on a prompt of"
                        + " min(" + calibrationTokens + ", maxTokens − 1) tokens, which must hold at least "
                        + CALIBRATION_MIN_CHUNKS + " chunks of 64, 128, … chunkSize; " + maxTokens + " gives " + chunks
                        + "; raise maxTokens or give a calibration");
            }
        } else if (c.stageCoefficients().size() != pp) {
            out.put("calibration.stageCoefficients", "lists " + c.stageCoefficients().size() + " stage(s); pp " + pp
                    + " needs exactly " + pp + " lists of [c0, c1, c2, c3], one per stage");
        } else if (out.isEmpty()) {
            for (int s = 0; s < pp; s++) {
                String why = nonPositive(c.stageCoefficients().get(s), maxChunk, maxTokens);
                if (why != null) {
                    out.put("calibration.stageCoefficients[" + s + "]", why);
                }
            }
        }
        return out;
    }

    static final int DEFAULT_MAX_CHUNK = 2048;

    /**
     * Why t(prefix, n) = c₀ + c₁·n + c₂·n·prefix + c₃·n² is not a cost (a finite, positive time for every chunk the
     * deployment can run: n in [1, maxChunk], prefix in [0, maxTokens − n]), or null. Linear in the prefix, so its
     * least value lies at prefix 0 or the longest; for each, a quadratic in n: the ends or the vertex.
     */
    public static String nonPositive(List<Double> c, int maxChunk, int maxTokens) {
        for (double v : c) {
            if (!Double.isFinite(v)) {
                return "coefficients must be finite numbers, got " + c;
            }
        }
        double c0 = c.get(0);
        double c1 = c.get(1);
        double c2 = c.get(2);
        double c3 = c.get(3);
        for (long prefix : new long[] {0, Math.max(0, maxTokens - 1)}) {
            double b = c1 + c2 * prefix;
            List<Double> ns = new ArrayList<>(List.of(1.0, (double) maxChunk));
            if (c3 > 0) {
                ns.add(Math.min(maxChunk, Math.max(1, -b / (2 * c3))));
            }
            for (double n : ns) {
                double t = c0 + b * n + c3 * n * n;
                if (!(t > 0)) {
                    return String.format("gives %.4g ms for a chunk of %d tokens after a prefix of %d; a chunk's cost"
                            + " must be positive for every chunk of 1 to chunkSize %d tokens at any prefix up to maxTokens", t,
                            Math.round(n), prefix, maxChunk);
                }
            }
        }
        return null;
    }

    /** Forgets a deleted deployment's schedules. */
    void forget(UUID deploymentId) {
        synchronized (schedules) {
            schedules.keySet().removeIf(k -> k.startsWith(deploymentId + ":"));
        }
    }
}
