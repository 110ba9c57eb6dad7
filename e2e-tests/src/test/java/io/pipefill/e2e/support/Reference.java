package io.pipefill.e2e.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the single-process engine makes of a prompt: {@code pipefill prefill} on the model directory (one process,
 * unchunked), its JSON report and the last position's logits it writes.
 */
public record Reference(List<Integer> generated, float[] lastLogits) {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @SuppressWarnings("unchecked")
    public static Reference of(Path model, int[] prompt, int maxNewTokens, Path work) throws Exception {
        Files.createDirectories(work);
        Path ids = Files.createTempFile(work, "prompt", ".txt");
        Path logits = Files.createTempFile(work, "logits", ".f32");
        Files.writeString(ids, Arrays.stream(prompt).mapToObj(String::valueOf).collect(Collectors.joining(",")));
        List<String> out = Pipefill.run("prefill-" + ids.getFileName(), Duration.ofMinutes(3), "prefill", "--model",
                model.toString(), "--token-ids-file", ids.toString(), "--max-new-tokens", String.valueOf(maxNewTokens),
                "--chunk", String.valueOf(Math.max(1, prompt.length)), "--threads", "1", "--json", "--quiet",
                "--logits-out", logits.toString());
        String json = out.stream().dropWhile(l -> !l.startsWith("{")).collect(Collectors.joining("\n"));
        Map<String, Object> report = JSON.readValue(json, Map.class);
        return new Reference((List<Integer>) report.get("generated_tokens"), floats(logits));
    }

    static float[] floats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    /** max |a − b| / max |b|: the relative error of {@code logits} against these. */
    public double relativeError(List<? extends Number> logits) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < lastLogits.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(logits.get(i).doubleValue() - lastLogits[i]));
            maxRef = Math.max(maxRef, Math.abs(lastLogits[i]));
        }
        return logits.size() == lastLogits.length ? maxDiff / maxRef : Double.POSITIVE_INFINITY;
    }
}
