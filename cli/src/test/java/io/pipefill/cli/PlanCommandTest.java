package io.pipefill.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import io.pipefill.model.Architecture;
import io.pipefill.model.BlockFp8;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelPreset;
import io.pipefill.model.create.ModelGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `pipefill plan`: its JSON contract in both modes and its errors. */
class PlanCommandTest {
    @TempDir
    Path dir;

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void predictsALayout() throws Exception {
        CliRun r = run("plan", "--model", "llama-3.1-70b", "--gpu", "h20", "--nodes", "4", "--gpus-per-node", "8",
                "--prompt-tokens", "131072", "--pp", "4", "--tp", "8", "--chunk", "4096", "--json", "--timeline");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("predict", j.get("mode").asText());
        assertTrue(j.get("ttft_ms").asDouble() > 0);
        assertTrue(j.get("prefill_tokens_per_s").asDouble() > 0);
        double bubble = j.get("bubble_ratio").asDouble();
        assertTrue(bubble > 0 && bubble < 1);
        assertEquals(4, j.get("stage_utilization").size());
        // fixed chunks grow dearer along the prompt (attention over the prefix): the search hands the later stages a
        // layer more, which fills the gaps they would wait in (19,20,20,21 against the even 20s)
        int layers = 0;
        for (JsonNode n : j.get("layer_partition")) {
            layers += n.asInt();
        }
        assertEquals(80, layers);
        assertEquals("19,20,20,21", j.get("layer_partition_arg").asText());
        assertTrue(j.get("ttft_ms").asDouble() < j.get("even_partition_ttft_ms").asDouble());
        assertEquals(32, j.get("chunks").size());
        assertEquals(4 * 32, j.get("timeline").size());
        assertTrue(j.get("reason").asText().contains("PP4×TP8"));
    }

    @Test
    void recommendsRankedPlans() throws Exception {
        CliRun r = run("plan", "--model", "qwen3-32b", "--gpu", "h100", "--nodes", "2", "--prompt-tokens", "65536",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("recommend", j.get("mode").asText());
        JsonNode plans = j.get("plans");
        assertTrue(plans.size() >= 2, r.out());
        for (JsonNode p : plans) {
            for (String f : new String[] {"ttft_ms", "prefill_tokens_per_s", "bubble_ratio", "stage_utilization",
                    "layer_partition", "chunks", "reason"}) {
                assertTrue(p.has(f), "plan lacks " + f);
            }
        }
        assertEquals(plans.get(0).get("ttft_ms").asDouble(), j.get("ttft_ms").asDouble(), 0);
    }

    @Test
    void humanOutputAndCalibration() throws Exception {
        Path cal = dir.resolve("cal.json");
        Files.writeString(cal, """
                {"samples": [
                  {"tp": 8, "first_layer": 0, "layers": 20, "prefix": 0, "chunk": 4096, "ms": 300},
                  {"tp": 8, "first_layer": 0, "layers": 20, "prefix": 65536, "chunk": 4096, "ms": 700},
                  {"tp": 8, "first_layer": 0, "layers": 20, "prefix": 0, "chunk": 8192, "ms": 640},
                  {"tp": 8, "first_layer": 0, "layers": 20, "prefix": 131072, "chunk": 2048, "ms": 610}]}""");
        CliRun r = run("plan", "--model", "llama-3.1-70b", "--gpu", "h20", "--nodes", "4", "--prompt-tokens", "131072",
                "--pp", "4", "--tp", "8", "--calibration", cal.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("calibrated from 4 samples"), r.out());
        assertTrue(r.out().contains("TTFT"), r.out());
    }

    @Test
    void plannedChunkingPrintsTheScheduleAndWhy() throws Exception {
        CliRun r = run("plan", "--model", "llama-3.1-8b", "--gpu", "h20", "--prompt-tokens", "32768", "--pp", "4", "--tp",
                "2", "--chunking", "planned", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("chunking").get("planned").asBoolean());
        int sum = 0;
        for (String n : j.get("chunking").get("schedule").asText().split(",")) {
            sum += Integer.parseInt(n);
        }
        assertEquals(32768, sum);
        assertTrue(j.get("reason").asText().contains("Why planned"), j.get("reason").asText());
        CliRun human = run("plan", "--model", "llama-3.1-8b", "--gpu", "h20", "--prompt-tokens", "32768", "--pp", "4",
                "--tp", "2", "--chunking", "planned");
        assertTrue(human.out().contains("--chunk-schedule " + j.get("chunking").get("schedule").asText()), human.out());
        CliRun bad = run("plan", "--model", "llama-3.1-8b", "--prompt-tokens", "32768", "--chunking", "best");
        assertTrue(bad.err().contains("--chunking must be swept or planned, got best"), bad.err());
    }

    @Test
    void printsTheSearchedLayerPartition() throws Exception {
        // half the layers dense and narrow, half MoE: the planner moves layers off the MoE stage
        Path model = dir.resolve("half-dense");
        Files.createDirectories(model);
        Files.writeString(model.resolve("config.json"), """
                {"architectures": ["Qwen3MoeForCausalLM"], "vocab_size": 151936, "hidden_size": 4096,
                 "intermediate_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
                 "num_key_value_heads": 4, "head_dim": 128, "num_experts": 64, "num_experts_per_tok": 8,
                 "moe_intermediate_size": 1536, "mlp_only_layers": [0, 1, 2, 3, 4, 5, 6, 7]}""");
        String[] args = {"plan", "--model", model.toString(), "--gpu", "h20", "--prompt-tokens", "32768", "--pp", "2",
                "--tp", "4", "--chunk", "4096"};
        CliRun r = run(append(args, "--json"));
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("layer_partition_searched").asBoolean(), r.out());
        String split = j.get("layer_partition_arg").asText();
        assertEquals(j.get("layer_partition").get(0).asInt() + "," + j.get("layer_partition").get(1).asInt(), split);
        assertTrue(j.get("ttft_ms").asDouble() < j.get("even_partition_ttft_ms").asDouble(), r.out());
        CliRun human = run(args);
        assertTrue(human.out().contains("--layer-partition " + split + " (searched: the even split 8,8 takes"),
                human.out());
    }

    private static String[] append(String[] a, String x) {
        String[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = x;
        return out;
    }

    @Test
    void plansAGeneratedMixtureOfExpertsModelFromItsConfig() throws Exception {
        for (Architecture arch : new Architecture[] {Architecture.QWEN3_MOE, Architecture.DEEPSEEK_V3}) {
            for (BlockFp8 fp8 : new BlockFp8[] {null, BlockFp8.DEEPSEEK}) {
                ModelConfig c = ModelPreset.TINY.config(arch).withFp8(fp8);
                Path model = dir.resolve(arch.cliName() + (fp8 == null ? "-bf16" : "-fp8"));
                new ModelGenerator(c, 1).write(model);
                CliRun r = run("plan", "--model", model.toString(), "--gpu", "h100", "--nodes", "1", "--prompt-tokens",
                        "4096", "--pp", "2", "--tp", "2", "--chunk", "512", "--json");
                assertEquals(0, r.code(), r.err());
                JsonNode j = new ObjectMapper().readTree(r.out());
                assertTrue(j.get("ttft_ms").asDouble() > 0, r.out());
                assertEquals(2, j.get("stage_utilization").size());
            }
        }
    }

    @Test
    void badInputGetsOneClearLine() {
        CliRun r = run("plan", "--model", "llama-3.1-70b", "--gpu", "h300", "--prompt-tokens", "1000");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("unknown GPU 'h300'; known: h20"), r.err());
        r = run("plan", "--model", "gpt-5", "--prompt-tokens", "1000");
        assertTrue(r.err().contains("unknown model 'gpt-5'"), r.err());
        r = run("plan", "--model", "llama-3.1-70b", "--prompt-tokens", "1000", "--pp", "1", "--tp", "3");
        assertTrue(r.err().contains("TP 3 does not divide the 64 attention heads"), r.err());
        r = run("plan", "--model", "llama-3.1-8b", "--nodes", "8", "--prompt-tokens", "1000", "--pp", "40", "--tp", "1");
        assertTrue(r.err().contains("PP 40 exceeds the model's 32 layers"), r.err());
        r = run("plan", "--model", "llama-3.1-8b", "--prompt-tokens", "-3");
        assertTrue(r.err().contains("--prompt-tokens must be positive, got -3"), r.err());
        r = run("plan", "--model", "llama-3.1-405b", "--gpu", "h100", "--prompt-tokens", "131072", "--pp", "1", "--tp", "8");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("does not fit") && r.err().contains("GiB"), r.err());
    }
}
