package io.pipefill.worker.model;

import io.pipefill.model.ModelDirectory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pipefill.model.BlockFp8;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelConfigJson;
import io.pipefill.model.safetensors.DType;
import io.pipefill.model.safetensors.SafetensorsException;
import io.pipefill.model.safetensors.SafetensorsFile;
import io.pipefill.model.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model's weights: one model.safetensors, or shards listed by model.safetensors.index.json. Files are
 * opened (and their headers validated) lazily, so a stage that needs two shards never touches the others.
 * Or, for throughput runs, {@link #random computed weights} of a shape with no file at all: backends read
 * them like stored ones, and the CUDA backend fills them on the device instead ({@link #randomWeights}).
 */
public final class Checkpoint implements AutoCloseable {

    private final Path directory;
    /** tensor name to the file that holds it */
    private final Map<String, String> weightMap;
    private final Map<String, SafetensorsFile> open = new LinkedHashMap<>();
    /** FP8 weights' block scales by weight name, and the blocks config.json declares (read at the first FP8 weight). */
    private final Map<String, float[]> scales = new java.util.HashMap<>();
    private BlockFp8 fp8;
    /** Non-null for computed weights; then weightMap is empty and no file is opened. */
    private final RandomWeights random;

    private Checkpoint(Path directory, Map<String, String> weightMap) {
        this.directory = directory;
        this.weightMap = weightMap;
        this.random = null;
    }

    private Checkpoint(RandomWeights random) {
        this.directory = Path.of("random-weights-seed" + random.seed());
        this.weightMap = Map.of();
        this.random = random;
    }

    /** Computed weights of {@code config}'s shape (see {@link RandomWeights}); no file is read. */
    public static Checkpoint random(ModelConfig config, long seed) {
        return new Checkpoint(new RandomWeights(config, seed));
    }

    /** The computed weights, or null when the weights come from files. */
    public RandomWeights randomWeights() {
        return random;
    }

    public static Checkpoint open(Path directory) {
        Path index = directory.resolve(ModelDirectory.INDEX_FILE);
        Path single = directory.resolve(ModelDirectory.SINGLE_FILE);
        if (Files.isRegularFile(index)) {
            return new Checkpoint(directory, readIndex(index));
        }
        if (Files.isRegularFile(single)) {
            Checkpoint c = new Checkpoint(directory, new LinkedHashMap<>());
            SafetensorsFile file = c.file(ModelDirectory.SINGLE_FILE);
            file.tensors().keySet().forEach(name -> c.weightMap.put(name, ModelDirectory.SINGLE_FILE));
            return c;
        }
        throw new SafetensorsException(directory + ": no weights found: expected " + ModelDirectory.SINGLE_FILE + " or " + ModelDirectory.INDEX_FILE);
    }

    private static Map<String, String> readIndex(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new SafetensorsException(index + ": malformed JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new SafetensorsException(index + ": missing object 'weight_map' (tensor name -> shard file)");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String file = e.getValue().asText();
            if (!e.getValue().isTextual() || file.contains("/") || file.contains("\\") || file.isEmpty()) {
                throw new SafetensorsException(index + ": weight_map entry '" + e.getKey()
                        + "' must name a shard file in the model directory, got " + e.getValue());
            }
            result.put(e.getKey(), file);
        }
        return result;
    }

    public Path directory() {
        return directory;
    }

    public boolean contains(String tensor) {
        if (random != null) {
            return random.contains(tensor);
        }
        return weightMap.containsKey(tensor);
    }

    /** The tensor's header entry, after checking that it exists and has the shape the config implies. */
    public TensorInfo require(String tensor, long... expectedShape) {
        if (random != null) {
            return random.require(tensor, expectedShape);
        }
        String fileName = weightMap.get(tensor);
        if (fileName == null) {
            throw new SafetensorsException(directory + ": missing tensor '" + tensor + "' (expected shape "
                    + Arrays.toString(expectedShape) + ")");
        }
        SafetensorsFile file = file(fileName);
        TensorInfo info = file.tensors().get(tensor);
        if (info == null) {
            throw new SafetensorsException(file.path() + ": missing tensor '" + tensor + "' that " + ModelDirectory.INDEX_FILE + " places there");
        }
        if (!Arrays.equals(info.shape(), expectedShape)) {
            throw new SafetensorsException(file.path() + ": tensor '" + tensor + "' has shape " + info.shapeString()
                    + " but config.json implies " + Arrays.toString(expectedShape));
        }
        if (info.dtype() == DType.F8_E4M3) {
            requireScale(file, info);
        }
        return info;
    }

    /**
     * An FP8 weight is read only with its block scale: config.json must declare the blocks and the checkpoint
     * hold {@code <name>_scale_inv} of one float per block. The scale is read once and kept (a few KB).
     */
    private void requireScale(SafetensorsFile file, TensorInfo info) {
        String name = info.name();
        if (fp8 == null) {
            ModelConfig c = ModelConfigJson.read(directory.resolve("config.json"));
            if (c.fp8() == null) {
                throw new SafetensorsException(file.path() + ": tensor '" + name + "' is F8_E4M3 but "
                        + directory.resolve("config.json") + " has no quantization_config (quant_method fp8 with "
                        + "weight_block_size) to say how it is scaled");
            }
            fp8 = c.fp8();
        }
        if (info.shape().length != 2) {
            throw new SafetensorsException(file.path() + ": F8_E4M3 tensor '" + name + "' has shape " + info.shapeString()
                    + "; block-scaled FP8 is for 2-D weights");
        }
        String scaleName = name + "_scale_inv";
        long[] want = fp8.scaleShape(info.shape()[0], info.shape()[1]);
        String shard = weightMap.get(scaleName);
        TensorInfo scale = shard == null ? null : file(shard).tensors().get(scaleName);
        if (scale == null) {
            throw new SafetensorsException(file.path() + ": F8_E4M3 tensor '" + name + "' has no scale '" + scaleName
                    + "' (float32 " + Arrays.toString(want) + ", one per [" + fp8.blockRows() + ", " + fp8.blockCols()
                    + "] block of quantization_config.weight_block_size)");
        }
        if (!Arrays.equals(scale.shape(), want)) {
            throw new SafetensorsException(file(shard).path() + ": scale '" + scaleName + "' has shape "
                    + scale.shapeString() + " but " + name + " " + info.shapeString() + " in [" + fp8.blockRows() + ", "
                    + fp8.blockCols() + "] blocks (quantization_config.weight_block_size) needs " + Arrays.toString(want));
        }
        if (scale.dtype() == DType.F8_E4M3) {
            throw new SafetensorsException(file(shard).path() + ": scale '" + scaleName + "' must be F32, BF16 or F16, got F8_E4M3");
        }
        scales.computeIfAbsent(name, n -> {
            float[] s = new float[Math.toIntExact(scale.elementCount())];
            file(shard).readFloats(scale, 0, s, 0, s.length);
            return s;
        });
    }

    /** Reads elements of a tensor found with {@link #require}, converted to float32. */
    void readFloats(TensorInfo tensor, long first, float[] dst, int dstOffset, int count) {
        if (random != null) {
            random.readFloats(tensor, first, dst, dstOffset, count);
            return;
        }
        file(weightMap.get(tensor.name())).readFloats(tensor, first, dst, dstOffset, count);
        if (tensor.dtype() == DType.F8_E4M3) {
            dequantize(tensor, first, dst, dstOffset, count);
        }
    }

    /** W[r, c] = fp8[r, c] · scale_inv[r / blockRows, c / blockCols], on elements [first, first + count). */
    private void dequantize(TensorInfo tensor, long first, float[] dst, int dstOffset, int count) {
        float[] scale = scales.get(tensor.name());
        if (scale == null) {
            throw new IllegalStateException("FP8 tensor '" + tensor.name() + "' read before require() found its scale");
        }
        long cols = tensor.shape()[1];
        int scaleCols = (int) ((cols + fp8.blockCols() - 1) / fp8.blockCols());
        for (int i = 0; i < count; i++) {
            long e = first + i;
            int r = (int) (e / cols);
            int c = (int) (e % cols);
            dst[dstOffset + i] *= scale[(r / fp8.blockRows()) * scaleCols + c / fp8.blockCols()];
        }
    }

    /** Reads a whole (small) tensor as float32. */
    public float[] readAll(TensorInfo tensor) {
        long n = tensor.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(tensor + " is too large for one array");
        }
        float[] out = new float[(int) n];
        readFloats(tensor, 0, out, 0, (int) n);
        return out;
    }

    private SafetensorsFile file(String name) {
        return open.computeIfAbsent(name, n -> SafetensorsFile.open(directory.resolve(n)));
    }

    @Override
    public void close() {
        open.values().forEach(SafetensorsFile::close);
        open.clear();
    }
}
