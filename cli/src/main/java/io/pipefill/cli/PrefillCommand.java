package io.pipefill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pipefill.model.LatencyFit;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.pipeline.ChunkingDecision;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.SystemMemory;
import io.pipefill.worker.cpu.CpuBackend;
import io.pipefill.worker.engine.AttentionUsage;
import io.pipefill.worker.engine.Backend;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.engine.CapacityCheck;
import io.pipefill.worker.launch.SingleProcessPrefill;
import io.pipefill.worker.launch.PrefillRequest;
import io.pipefill.worker.launch.PrefillResult;
import io.pipefill.worker.launch.ProgressListener;
import io.pipefill.worker.engine.Sampling;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.model.ModelDirectory;
import io.pipefill.tokenizer.PromptTokenizer;
import java.io.PrintStream;
import io.pipefill.model.ChunkSchedule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "prefill", mixinStandardHelpOptions = true,
        description = "Prefill a prompt chunk by chunk on the CPU or a GPU, then generate greedily.")
final class PrefillCommand implements Callable<Integer> {
    @Option(names = "--model", required = true,
            description = "Hugging Face model directory, or a preset to generate once: tiny, small (with --random-weights: tiny, small, 8b-shape).")
    String model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource prompt;

    @Option(names = "--seed", defaultValue = "0", description = "Seed for --random-tokens (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--chunk", defaultValue = "2048", description = "Tokens per prefill chunk (default: ${DEFAULT-VALUE}).")
    int chunk;

    @Option(names = "--max-new-tokens", defaultValue = "1",
            description = "Tokens to generate greedily; the first comes from the prefill (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--backend", defaultValue = "cpu",
            description = "Compute backend: cpu (float32, OpenBLAS) or cuda (BF16; a single process on GPU 0, --pp N --in-process "
                    + "with --tp 1 sharing GPU 0, or --pp/--tp worker processes with rank r on GPU r over NCCL) (default: ${DEFAULT-VALUE}).")
    Backends.Kind backend;

    @Option(names = "--threads", description = "Compute threads, per rank with --pp/--tp (default: all cores, divided among the ranks).")
    Integer threads;

    @Option(names = "--kv-budget", defaultValue = "auto",
            description = "Most memory the KV cache may take, e.g. 4g (default: half of the machine's memory).")
    String kvBudget;

    @Option(names = "--pp", defaultValue = "1", description = "Pipeline stages, one worker process each (default: ${DEFAULT-VALUE}).")
    int pp;

    @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel ranks per stage (default: ${DEFAULT-VALUE}).")
    int tp;

    @Option(names = "--layer-partition", description = "Layers per stage, e.g. 3,3,2 (default: even, extra layers on the last stages).")
    String layerPartition;

    @Option(names = "--dynamic-chunking", description = "Shrink chunks as the prefix grows so each costs about the first (base = --chunk).")
    boolean dynamicChunking;

    @Option(names = "--smooth", defaultValue = "0.75", description = "Dynamic chunking smoothing σ in [0, 1] (default: ${DEFAULT-VALUE}).")
    double smooth;

    @Option(names = "--chunk-fit", split = ",", description = "Use this latency fit a,b,c (ms) instead of profiling stage 0.")
    double[] chunkFit;

    @Option(names = "--chunk-schedule", description = "Explicit chunk sizes, e.g. 8192,7680,7168 (as `pipefill plan "
            + "--chunking planned` prints them), or a file holding them; they must add up to the prompt. Every rank runs "
            + "them (replaces --chunk and --dynamic-chunking).")
    String chunkSchedule;

    @Option(names = "--in-process", description = "Run the pipeline's ranks as threads of this process instead of worker processes.")
    boolean inProcess;

    @Option(names = "--peer-timeout", defaultValue = "120", description = "Seconds a rank waits for a peer before failing (default: ${DEFAULT-VALUE}).")
    int peerTimeout;

    @Option(names = "--random-weights",
            description = "Compute the weights of the --model preset (tiny, small, 8b-shape; llama) from --weight-seed "
                    + "instead of reading a model directory: for throughput runs (cuda fills them on the device).")
    boolean randomWeights;

    @Option(names = "--weight-seed", defaultValue = "0", description = "Seed of --random-weights (default: ${DEFAULT-VALUE}).")
    long weightSeed;

    @Option(names = "--logits-out", description = "Also write the last position's logits to this file (float32, little-endian).")
    Path logitsOut;

    @Option(names = "--json", description = "Print one JSON object instead of the human report.")
    boolean json;

    @Option(names = "--quiet", description = "No progress lines.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        PrintStream log = System.err;
        if (chunk <= 0) {
            throw new IllegalArgumentException("--chunk must be positive, got " + chunk);
        }
        int world = pp * tp;
        // one stage in this process is a pipeline too (the same stage loop, dynamic chunking included); worker
        // processes or ranks as threads are for --pp/--tp and --in-process
        boolean pipeline = world > 1 || inProcess;
        int cores = Runtime.getRuntime().availableProcessors();
        int nThreads = threads != null ? threads : pipeline ? Math.max(1, cores / Math.max(1, world)) : cores;
        if (nThreads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + nThreads);
        }
        if (backend == Backends.Kind.cuda && inProcess && tp > 1) {
            throw new IllegalArgumentException("--backend cuda --in-process runs --tp 1 only: its stages share GPU 0, and "
                    + "tensor parallelism needs a GPU per rank (NCCL refuses two ranks on one GPU). Drop --in-process to "
                    + "run one worker process per GPU (rank r on GPU r, NCCL between them). Got --pp " + pp + " --tp " + tp
                    + " --in-process");
        }
        if (randomWeights && pipeline) {
            throw new IllegalArgumentException("--random-weights runs the single-process path only: the pipeline's "
                    + "workers read a model directory; drop --pp, --tp and --in-process");
        }
        if (randomWeights && prompt.needsTokenizer()) {
            throw new IllegalArgumentException("--random-weights has no tokenizer: give the prompt as --token-ids, "
                    + "--token-ids-file or --random-tokens, not as text");
        }
        // before the model is read: a machine without CUDA learns so at once, with the libraries it lacks
        Backends.checkAvailable(backend);
        if (pipeline && !inProcess) {
            // before the model is read or any worker starts: one GPU per rank
            Backends.checkDevicesFor(backend, world);
        }
        Path dir = randomWeights ? null : ModelResolver.resolve(model, log);
        ModelDirectory md = randomWeights ? null : ModelDirectory.open(dir);
        ModelConfig c = randomWeights ? RandomModel.config(model) : md.config();
        String modelName = randomWeights ? RandomModel.describe(model, weightSeed) : dir.toString();
        int[] tokens = prompt.tokens(md == null ? null : md.tokenizerJson(), c.vocabSize(), seed);
        List<Integer> schedule = explicitSchedule(tokens.length);
        PrefillRequest request = new PrefillRequest(tokens, schedule != null ? schedule.stream().mapToInt(i -> i).max()
                .orElse(chunk) : chunk, maxNewTokens, dynamicChunking, smooth, givenFit(), schedule);

        StageShard shard = StageShard.whole(c);
        long budget = kvBudget.equals("auto") ? SystemMemory.totalBytes() / 2 : ByteSize.parse("--kv-budget", kvBudget);
        // float32 bytes per position: conservative for the CUDA backend, whose cache is BF16
        CapacityCheck.check(c, tokens.length, maxNewTokens, CpuBackend.kvCacheBytes(c, shard, 1), budget);
        if (backend == Backends.Kind.cpu) {
            // the CUDA backend holds weights and cache on the device; its pool reports what does not fit
            SystemMemory.checkFits("float32 weights", CpuBackend.weightBytes(c, shard)
                    + CpuBackend.kvCacheBytes(c, shard, request.kvCapacity()));
        }

        if (pipeline) {
            return new PipelineRun(this, dir, c, tokens, nThreads, schedule).execute(out, log);
        }
        if (!json) {
            out.printf("model    %s (%s, %d layers, hidden %d, %d/%d heads, %.1fM params)%n", dir, c.architecture().hfName(),
                    c.numLayers(), c.hiddenSize(), c.numHeads(), c.numKvHeads(), c.parameterCount() / 1e6);
            out.printf("prompt   %d tokens (%s); %s; %d thread%s%n", tokens.length, prompt.describe(seed),
                    schedule != null ? "explicit schedule of " + schedule.size() + " chunks"
                            : dynamicChunking ? "dynamic chunks (σ " + smooth + "), base " + chunk
                            : "chunks of " + Math.min(chunk, tokens.length), nThreads, nThreads == 1 ? "" : "s");
        }
        ProgressListener progress = quiet ? ProgressListener.NONE : new ProgressListener() {
            @Override
            public void chunkDone(int index, int chunks, int done, int total, double ms) {
                log.printf("  chunk %d/%d  %d/%d tokens  %.0f ms%n", index + 1, chunks, done, total, ms);
            }
        };
        PrefillResult r;
        long weightBytes;
        long kvBytes;
        AttentionUsage.Report attention;
        try (Backend compute = Backends.create(backend, nThreads); Checkpoint ckpt = randomWeights ? Checkpoint.random(c, weightSeed) : Checkpoint.open(md.path())) {
            long t0 = System.nanoTime();
            try (Stage stage = compute.loadStage(c, shard, ckpt, request.kvCapacity())) {
                if (!quiet) {
                    log.printf("  loaded weights in %.1f s%n", (System.nanoTime() - t0) / 1e9);
                }
                weightBytes = stage.weightBytes();
                kvBytes = stage.kvCacheBytes();
                r = new SingleProcessPrefill(c, stage).run(request, progress);
                attention = stage.attentionUsage();
            }
        }
        String text = null;
        if (logitsOut != null) {
            LogitsFile.write(logitsOut, r.lastLogits());
        }
        if (md != null && md.hasTokenizer() && r.generated().length > 0) {
            try (PromptTokenizer tok = PromptTokenizer.open(md.tokenizerJson())) {
                text = tok.decode(r.generated());
            }
        }
        if (json) {
            out.println(toJson(modelName, c, nThreads, r, weightBytes, kvBytes, attention, text));
        } else {
            printHuman(out, r, text);
        }
        return 0;
    }

    /**
     * The --chunk-schedule sizes (read from the file when it names one), checked against the prompt; null when the
     * chunks are fixed or dynamic.
     */
    List<Integer> explicitSchedule(int promptTokens) throws java.io.IOException {
        if (chunkSchedule == null) {
            return null;
        }
        if (dynamicChunking) {
            throw new IllegalArgumentException("--chunk-schedule gives the chunks itself: drop --dynamic-chunking");
        }
        Path file = Path.of(chunkSchedule.trim());
        String text = !chunkSchedule.isBlank() && Files.isRegularFile(file) ? Files.readString(file) : chunkSchedule;
        ChunkSchedule s = ChunkSchedule.parse(text);
        if (s.promptTokens() != promptTokens) {
            throw new IllegalArgumentException("--chunk-schedule covers " + s.promptTokens() + " tokens (" + s.size()
                    + " chunks) but the prompt has " + promptTokens + "; pipefill plan --chunking planned --prompt-tokens "
                    + promptTokens + " makes one for it");
        }
        return s.sizes();
    }

    /** The --chunk-fit a,b,c, or null to profile; checked before any model is read. */
    LatencyFit givenFit() {
        if (smooth < 0 || smooth > 1) {
            throw new IllegalArgumentException("--smooth must be in [0, 1], got " + smooth);
        }
        if (chunkFit == null) {
            return null;
        }
        if (chunkFit.length != 3) {
            throw new IllegalArgumentException("--chunk-fit takes three numbers a,b,c, got " + chunkFit.length);
        }
        return new LatencyFit(chunkFit[0], chunkFit[1], chunkFit[2]);
    }

    private void printHuman(PrintStream out, PrefillResult r, String text) {
        ChunkingDecision d = r.chunking();
        if (d.dynamicRequested()) {
            out.println(d.dynamicUsed()
                    ? String.format("chunking dynamic: fit a=%.4g b=%.4g c=%.4g; %d chunks", d.fit().a(), d.fit().b(),
                            d.fit().c(), r.chunks().size())
                    : "chunking fell back to fixed: " + d.fallbackReason());
        }
        out.printf("TTFT     %.1f ms   prefill %.0f tokens/s   %.1f GFLOP/s%n", r.ttftMs(), r.prefillTokensPerSecond(),
                r.prefillGflops());
        out.printf("first token %d%n", r.firstToken());
        if (r.generated().length > 1) {
            out.printf("generated %s in %.1f ms after the first%n", Arrays.toString(r.generated()), r.decodeMs());
        }
        if (text != null && !text.isBlank()) {
            out.printf("text     %s%n", text.replace("\n", "\\n"));
        }
        StringBuilder top = new StringBuilder("top-5    ");
        for (Sampling.Scored s : Sampling.topK(r.lastLogits(), 5)) {
            top.append(String.format("%d:%.4f  ", s.token(), s.logit()));
        }
        out.println(top.toString().trim());
    }

    private String toJson(String modelName, ModelConfig c, int nThreads, PrefillResult r, long weightBytes, long kvBytes,
                          AttentionUsage.Report attention, String text) throws Exception {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = mapper.createObjectNode();
        o.put("model", modelName);
        o.put("random_weights", randomWeights);
        o.put("architecture", c.architecture().hfName());
        o.put("backend", backend.name());
        o.put("threads", nThreads);
        o.put("prompt_tokens", r.promptTokens());
        o.put("chunk", chunk);
        ChunkingDecision d = r.chunking();
        ObjectNode dyn = o.putObject("dynamic_chunking");
        dyn.put("requested", d.dynamicRequested());
        dyn.put("enabled", d.dynamicUsed());
        if (d.dynamicUsed()) {
            dyn.put("sigma", d.sigma());
            dyn.putArray("fit").add(d.fit().a()).add(d.fit().b()).add(d.fit().c());
        } else if (d.fallbackReason() != null) {
            dyn.put("fallback_reason", d.fallbackReason());
        }
        ArrayNode chunks = o.putArray("chunks");
        for (PrefillResult.ChunkTiming t : r.chunks()) {
            chunks.addObject().put("offset", t.offset()).put("size", t.size()).put("ms", t.ms());
        }
        AttentionUsageJson.write(o.putObject("attention"), attention);
        o.put("ttft_ms", r.ttftMs());
        o.put("prefill_tokens_per_s", r.prefillTokensPerSecond());
        o.put("prefill_gflops", r.prefillGflops());
        o.put("first_token", r.firstToken());
        ArrayNode gen = o.putArray("generated_tokens");
        Arrays.stream(r.generated()).forEach(gen::add);
        if (text != null) {
            o.put("generated_text", text);
        }
        o.put("decode_ms", r.decodeMs());
        ArrayNode top = o.putArray("last_logits_top5");
        for (Sampling.Scored s : Sampling.topK(r.lastLogits(), 5)) {
            top.addObject().put("token", s.token()).put("logit", s.logit());
        }
        o.put("weights_bytes", weightBytes);
        o.put("kv_cache_bytes", kvBytes);
        return mapper.writeValueAsString(o);
    }
}
