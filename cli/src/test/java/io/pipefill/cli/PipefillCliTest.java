package io.pipefill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.model.Architecture;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import io.pipefill.worker.cuda.CudaLibraries;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI end to end, in process: its JSON contract and its errors for bad input. */
class PipefillCliTest {
    @TempDir
    Path dir;
    @TempDir
    static Path models;
    /** The tiny Llama preset, generated once: 4 layers, a 512-token byte-level vocabulary, context 8192. */
    private static String model;

    @BeforeAll
    static void generate() throws Exception {
        Path m = models.resolve("tiny-llama");
        new ModelGenerator(ModelPreset.TINY.config(Architecture.LLAMA), 0).write(m);
        model = m.toString();
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void prefillJsonHasTheContractFields() throws Exception {
        CliRun r = run("prefill", "--model", model, "--random-tokens", "100", "--chunk", "30", "--max-new-tokens", "3",
                "--threads", "1", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(100, j.get("prompt_tokens").asInt());
        assertEquals(4, j.get("chunks").size());
        assertEquals(10, j.get("chunks").get(3).get("size").asInt());
        assertTrue(j.get("ttft_ms").asDouble() > 0);
        assertTrue(j.get("prefill_tokens_per_s").asDouble() > 0);
        assertEquals(3, j.get("generated_tokens").size());
        assertEquals(j.get("first_token").asInt(), j.get("generated_tokens").get(0).asInt());
        assertEquals(5, j.get("last_logits_top5").size());
        assertEquals(j.get("first_token").asInt(), j.get("last_logits_top5").get(0).get("token").asInt());
        assertTrue(r.err().contains("chunk 4/4"), "progress goes to stderr: " + r.err());
        for (JsonNode c : j.get("chunks")) {
            assertTrue(c.get("ms").asDouble() > 0, "each chunk's time: " + c);
        }
        // the attention that ran (tools/gpu-check copies it into its throughput rows): the CPU's own, everywhere;
        // 4 prefill chunks and 2 decode steps, each through the tiny model's 4 layers
        JsonNode attention = j.get("attention");
        assertEquals("cpu", attention.get("requested").asText());
        assertEquals(false, attention.get("fell_back").asBoolean());
        assertEquals(0, attention.get("fallbacks").size());
        assertEquals(0, attention.get("fallback_chunks_not_listed").asInt());
        assertEquals(1, attention.get("used").size());
        JsonNode cpu = attention.get("used").get("cpu");
        assertEquals(6, cpu.get("chunks").asInt());
        assertEquals(102, cpu.get("tokens").asInt());
        assertEquals(24, cpu.get("layer_calls").asInt());
    }

    @Test
    void pipelineJsonHasTheTopologyAndTimelineFields() throws Exception {
        CliRun r = run("prefill", "--model", model, "--random-tokens", "200", "--pp", "2", "--tp", "2", "--chunk", "64",
                "--layer-partition", "1,3", "--dynamic-chunking", "--chunk-fit", "0.002,0.05,1", "--in-process",
                "--max-new-tokens", "2", "--threads", "1", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("pp").asInt());
        assertEquals(2, j.get("tp").asInt());
        assertEquals("[1,3]", j.get("layer_partition").toString());
        JsonNode d = j.get("dynamic_chunking");
        assertTrue(d.get("enabled").asBoolean());
        assertEquals(64, d.get("base").asInt());
        assertEquals(0.75, d.get("sigma").asDouble());
        assertEquals(0.002, d.get("a").asDouble(), 1e-9);
        assertTrue(d.get("fallback_reason").isNull());
        assertEquals(4, j.get("weights_bytes_per_rank").size());
        assertTrue(j.get("timeline").size() >= 2 * j.get("chunks").size());
        JsonNode e = j.get("timeline").get(0);
        for (String f : new String[] {"stage", "chunk", "start_ms", "recv_wait_ms", "compute_ms", "send_ms"}) {
            assertTrue(e.has(f), "timeline entry lacks " + f + ": " + e);
        }
        assertTrue(j.get("bubble_ratio").asDouble() >= 0);
        assertEquals(2, j.get("stage_utilization").size());
        assertEquals(2, j.get("generated_tokens").size());
    }

    @Test
    void anExplicitChunkScheduleRunsAsGivenFromTheLineOrAFile(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        CliRun whole = run("prefill", "--model", model, "--random-tokens", "200", "--chunk", "200", "--threads", "1",
                "--json", "--quiet");
        assertEquals(0, whole.code(), whole.err());
        Path file = tmp.resolve("schedule.txt");
        Files.writeString(file, "96\n64\n40\n");
        for (String sched : new String[] {"96,64,40", file.toString()}) {
            CliRun r = run("prefill", "--model", model, "--random-tokens", "200", "--pp", "2", "--tp", "2",
                    "--chunk-schedule", sched, "--in-process", "--threads", "1", "--json");
            assertEquals(0, r.code(), r.err());
            JsonNode j = new ObjectMapper().readTree(r.out());
            assertEquals("[96,64,40]", j.get("chunks").findValuesAsText("size").toString().replace(" ", ""),
                    j.get("chunks").toString());
            assertEquals(new ObjectMapper().readTree(whole.out()).get("first_token").asInt(), j.get("first_token").asInt());
        }
        CliRun bad = run("prefill", "--model", model, "--random-tokens", "200", "--pp", "2", "--chunk-schedule", "96,64",
                "--in-process");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--chunk-schedule covers 160 tokens (2 chunks) but the prompt has 200"), bad.err());
    }

    @Test
    void pipelineLayoutsThatDoNotFitAreRefused() {
        assertTrue(run("prefill", "--model", model, "--random-tokens", "20", "--tp", "3", "--in-process").err()
                .contains("--tp 3 must divide the attention heads (4) and the key/value heads (2)"));
        assertTrue(run("prefill", "--model", model, "--random-tokens", "20", "--pp", "2", "--layer-partition", "3,3",
                "--in-process").err().contains("sums to 6 but the model has 4 layers"));
        assertTrue(run("prefill", "--model", model, "--random-tokens", "20", "--pp", "5", "--in-process").err()
                .contains("5 pipeline stages for a model of 4 layers"));
        assertTrue(run("prefill", "--model", model, "--random-tokens", "20", "--pp", "2", "--smooth", "2", "--in-process")
                .err().contains("--smooth must be in [0, 1], got 2.0"));
    }

    @Test
    void textPromptIsTokenizedAndHumanOutputIsPrinted() {
        CliRun r = run("prefill", "--model", model, "--prompt", "Hello", "--threads", "1", "--max-new-tokens", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("prompt   6 tokens (text)"), r.out());
        assertTrue(r.out().contains("TTFT") && r.out().contains("top-5"), r.out());
    }

    @Test
    void tokenIdFilesAreRead() throws Exception {
        Path ids = dir.resolve("ids.txt");
        Files.writeString(ids, "256, 1 2\n3");
        CliRun r = run("prefill", "--model", model, "--token-ids-file", ids.toString(), "--json", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertEquals(4, new ObjectMapper().readTree(r.out()).get("prompt_tokens").asInt());
        Files.writeString(ids, "1, two");
        CliRun bad = run("prefill", "--model", model, "--token-ids-file", ids.toString());
        assertTrue(bad.err().contains("token 2 is 'two', not an integer id"), bad.err());
    }

    @Test
    void promptLongerThanTheContextIsRefusedBeforeCompute() {
        CliRun r = run("prefill", "--model", model, "--random-tokens", "9000");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("prompt of 9000 tokens plus 1 new tokens exceeds the model's context of 8192"), r.err());
        assertTrue(!r.err().contains("chunk 1/"), "no chunk may run");
    }

    @Test
    void promptOverTheKvBudgetIsRefusedBeforeCompute() {
        CliRun r = run("prefill", "--model", model, "--random-tokens", "4000", "--kv-budget", "1m");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("needs a KV cache of 8 MiB but the budget is 1 MiB (at most 512 positions)"), r.err());
        assertTrue(run("prefill", "--model", model, "--random-tokens", "4", "--kv-budget", "lots").err()
                .contains("--kv-budget lots: expected a positive size"));
    }

    @Test
    void badArgumentsAreNamed() {
        assertTrue(run("prefill", "--model", model, "--random-tokens", "10", "--chunk", "0").err()
                .contains("--chunk must be positive, got 0"));
        assertTrue(run("prefill", "--model", model, "--token-ids", "1,600").err()
                .contains("token id 600 at prompt position 1 is outside the vocabulary [0, 512)"));
        assertTrue(run("prefill", "--model", dir.resolve("nope").toString(), "--random-tokens", "3").err()
                .contains("not a directory, nor a preset to generate (tiny, small)"));
        CliRun both = run("prefill", "--model", model, "--random-tokens", "3", "--prompt", "x");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("mutually exclusive"), both.err());
        assertTrue(run("model", "create", "--out", dir.resolve("m").toString(), "--arch", "gpt2").err()
                .contains("unknown architecture 'gpt2'; supported: llama, mistral, qwen2, qwen3"));
    }

    @Test
    void unsupportedArchitectureInConfigIsNamed() throws Exception {
        Path m = dir.resolve("gpt");
        Files.createDirectories(m);
        Files.writeString(m.resolve("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"]}");
        CliRun r = run("prefill", "--model", m.toString(), "--random-tokens", "3");
        assertTrue(r.err().contains("config.json: unsupported architecture 'GPT2LMHeadModel'"), r.err());
    }

    @Test
    void modelCreateWritesALoadableDirectory() {
        Path out = dir.resolve("q2");
        CliRun r = run("model", "create", "--out", out.toString(), "--arch", "qwen2", "--layers", "1", "--seed", "9");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Qwen2ForCausalLM, 1 layers"), r.out());
        CliRun p = run("prefill", "--model", out.toString(), "--prompt", "hi", "--threads", "1", "--quiet");
        assertEquals(0, p.code(), p.err());
    }

    @Test
    void cudaBackendFailsFastNamingTheMissingLibraries() {
        Assumptions.assumeFalse(CudaLibraries.probe().missing().isEmpty(), "this machine has every CUDA library");
        CliRun r = run("prefill", "--model", model, "--random-tokens", "10", "--backend", "cuda");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("the CUDA backend needs libraries that were not found"), r.err());
        for (String so : CudaLibraries.probe().missing()) {
            assertTrue(r.err().contains(so), so + " is named: " + r.err());
        }
        assertTrue(r.err().contains("/usr/local/cuda/lib64"), "searched directories are listed: " + r.err());
        assertTrue(!r.err().contains("loaded weights") && !r.err().contains("chunk 1/"), "nothing ran: " + r.err());
    }

    @Test
    void aCudaWorkerAgentNamesTheMissingLibrariesBeforeJoining() {
        Assumptions.assumeFalse(CudaLibraries.probe().missing().isEmpty(), "this machine has every CUDA library");
        // the control plane address is never contacted: the check comes first
        CliRun r = run("worker", "--control-plane", "http://127.0.0.1:9", "--join-token", "t", "--backend", "cuda");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("the CUDA backend needs libraries that were not found"), r.err());
        assertTrue(!r.err().contains("joining the control plane"), "it did not start: " + r.err());
        CliRun unknown = run("worker", "--control-plane", "http://127.0.0.1:9", "--join-token", "t", "--backend", "tpu");
        assertTrue(unknown.code() != 0 && unknown.err().contains("allowed: cpu, cuda"), unknown.err());
    }

    @Test
    void cudaPipelinesInProcessAreTp1OnlyWorkerProcessesTakeAGpuEachAndUnknownBackendsAreNamed() {
        CliRun tp = run("prefill", "--model", model, "--random-tokens", "10", "--backend", "cuda", "--pp", "2", "--tp", "2",
                "--in-process");
        assertEquals(1, tp.code());
        assertTrue(tp.err().contains("--backend cuda --in-process runs --tp 1 only"), tp.err());
        assertTrue(tp.err().contains("NCCL refuses two ranks on one GPU"), "why is said: " + tp.err());
        assertTrue(tp.err().contains("Drop --in-process"), "the supported way is named: " + tp.err());
        assertTrue(tp.err().contains("Got --pp 2 --tp 2 --in-process"), tp.err());
        CliRun tpOnly = run("prefill", "--model", model, "--random-tokens", "10", "--backend", "cuda", "--tp", "2",
                "--in-process");
        assertTrue(tpOnly.err().contains("runs --tp 1 only"), tpOnly.err());
        CliRun randomPipeline = run("prefill", "--model", "tiny", "--random-weights", "--random-tokens", "10", "--backend",
                "cuda", "--pp", "2");
        assertEquals(1, randomPipeline.code());
        assertTrue(randomPipeline.err().contains("--random-weights runs the single-process path only"), randomPipeline.err());
        if (!CudaLibraries.probe().missing().isEmpty()) {
            // accepted: each gets as far as the library check, before the device count, the model or any worker
            String[][] accepted = {
                {"--pp", "2"}, {"--pp", "2", "--tp", "2"}, {"--tp", "2"}, {"--pp", "2", "--in-process"},
                {"--dynamic-chunking"},
            };
            for (String[] layout : accepted) {
                List<String> args = new ArrayList<>(List.of("prefill", "--model", model, "--random-tokens", "10",
                        "--backend", "cuda"));
                args.addAll(List.of(layout));
                CliRun r = run(args.toArray(new String[0]));
                assertEquals(1, r.code(), String.join(" ", layout));
                assertTrue(r.err().contains("the CUDA backend needs libraries that were not found"),
                        String.join(" ", layout) + ": " + r.err());
                assertTrue(!r.err().contains("worker logs in") && !r.err().contains("layout "),
                        "no worker was started: " + r.err());
            }
        }
        CliRun unknown = run("prefill", "--model", model, "--random-tokens", "10", "--backend", "tpu");
        assertTrue(unknown.code() != 0 && unknown.err().contains("tpu"), unknown.err());
    }

    /** On a GPU host with fewer GPUs than ranks: refused before any worker starts, naming both counts. */
    @Test
    void aCudaPipelineOfWorkerProcessesNeedsAGpuPerRank() {
        Assumptions.assumeTrue(CudaLibraries.probe().missing().isEmpty(), "no CUDA libraries: the device count is not reached");
        int gpus = io.pipefill.worker.cuda.NcclRank.deviceCount();
        int ranks = gpus + 1;
        CliRun r = run("prefill", "--model", model, "--random-tokens", "10", "--backend", "cuda", "--tp", "1", "--pp",
                String.valueOf(ranks));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("needs " + ranks + " GPUs") && r.err().contains("CUDA sees " + gpus), r.err());
        assertTrue(!r.err().contains("worker logs in"), "no worker was started: " + r.err());
    }

    @Test
    void cpuBackendIsTheDefaultAndReportedInJson() throws Exception {
        CliRun r = run("prefill", "--model", model, "--random-tokens", "20", "--threads", "1", "--backend", "cpu", "--json",
                "--quiet");
        assertEquals(0, r.code(), r.err());
        assertEquals("cpu", new ObjectMapper().readTree(r.out()).get("backend").asText());
    }

    @Test
    void randomWeightsRunAPresetWithoutFilesAndWriteLogits() throws Exception {
        Path logits = dir.resolve("logits.f32");
        String[] args = {"prefill", "--model", "tiny", "--random-weights", "--weight-seed", "5", "--random-tokens", "24",
            "--chunk", "10", "--threads", "1", "--json", "--quiet", "--logits-out", logits.toString()};
        CliRun a = run(args);
        assertEquals(0, a.code(), a.err());
        JsonNode j = new ObjectMapper().readTree(a.out());
        assertTrue(j.get("random_weights").asBoolean());
        assertEquals("random-weights:tiny:seed5", j.get("model").asText());
        float[] first = LogitsFile.read(logits);
        assertEquals(512, first.length);
        CliRun b = run(args);
        assertEquals(a.out().replaceAll("\"(ms|ttft_ms|prefill_tokens_per_s|prefill_gflops|decode_ms)\" : [0-9.E-]+", ""),
                b.out().replaceAll("\"(ms|ttft_ms|prefill_tokens_per_s|prefill_gflops|decode_ms)\" : [0-9.E-]+", ""),
                "deterministic for a seed");
        org.junit.jupiter.api.Assertions.assertArrayEquals(first, LogitsFile.read(logits));
    }

    @Test
    void oneProcessRunsDynamicChunkingAsTheOneStagePipeline() throws Exception {
        CliRun r = run("prefill", "--model", "tiny", "--random-weights", "--random-tokens", "300", "--chunk", "128",
                "--dynamic-chunking", "--chunk-fit", "0.002,0.05,1", "--smooth", "0.5", "--threads", "1", "--json",
                "--quiet");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("dynamic_chunking").get("enabled").asBoolean(), r.out());
        JsonNode chunks = j.get("chunks");
        assertEquals(128, chunks.get(0).get("size").asInt());
        assertTrue(chunks.get(chunks.size() - 1).get("size").asInt() < 128, "later chunks shrink: " + chunks);
        CliRun human = run("prefill", "--model", "tiny", "--random-weights", "--random-tokens", "300", "--chunk", "128",
                "--dynamic-chunking", "--threads", "1", "--quiet");
        assertEquals(0, human.code(), human.err());
        assertTrue(human.out().contains("chunking dynamic: fit") || human.out().contains("chunking fell back to fixed"),
                "the profile's outcome is said: " + human.out());
    }

    @Test
    void pipelineRunsWriteTheSameLogitsAsOneProcess() throws Exception {
        Path single = dir.resolve("single.f32");
        Path pp2 = dir.resolve("pp2.f32");
        CliRun a = run("prefill", "--model", model, "--random-tokens", "30", "--chunk", "30", "--threads", "1", "--json",
                "--quiet", "--logits-out", single.toString());
        assertEquals(0, a.code(), a.err());
        CliRun b = run("prefill", "--model", model, "--random-tokens", "30", "--chunk", "8", "--pp", "2", "--in-process",
                "--threads", "1", "--json", "--quiet", "--logits-out", pp2.toString());
        assertEquals(0, b.code(), b.err());
        float[] x = LogitsFile.read(single);
        float[] y = LogitsFile.read(pp2);
        assertEquals(x.length, y.length);
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < x.length; i++) {
            diff += (x[i] - y[i]) * (double) (x[i] - y[i]);
            norm += x[i] * (double) x[i];
        }
        // float32 on both sides; chunking changes only the order of additions
        assertTrue(Math.sqrt(diff / norm) < 1e-4, "relative error " + Math.sqrt(diff / norm));
    }

    @Test
    void randomWeightsRefuseDirectoriesTextAndPipelines() {
        CliRun notPreset = run("prefill", "--model", model, "--random-weights", "--random-tokens", "4");
        assertEquals(1, notPreset.code());
        assertTrue(notPreset.err().contains("--random-weights needs a preset as --model") && notPreset.err().contains("8b-shape"),
                notPreset.err());
        CliRun text = run("prefill", "--model", "tiny", "--random-weights", "--prompt", "hello");
        assertTrue(text.code() == 1 && text.err().contains("--random-weights has no tokenizer"), text.err());
        CliRun pp = run("prefill", "--model", "tiny", "--random-weights", "--random-tokens", "4", "--pp", "2");
        assertTrue(pp.code() == 1 && pp.err().contains("--random-weights runs the single-process path only"), pp.err());
    }
}
