package io.pipefill.model.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file. The header is validated completely on open (every offset in range, no
 * overlaps, sizes matching dtype and shape), so later reads never see a corrupt layout. Tensors are mapped
 * one at a time on demand: a stage that needs a few layers maps only those.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Larger headers are not plausible and would only be an attack on memory. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
    }

    public static SafetensorsFile open(Path path) {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(path + ": not found");
        } catch (IOException e) {
            throw new SafetensorsException(path + ": cannot open: " + e.getMessage(), e);
        }
        try {
            long fileSize = channel.size();
            if (fileSize < 8) {
                throw new SafetensorsException(path + ": truncated: " + fileSize
                        + " bytes, but a safetensors file starts with an 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES) {
                throw new SafetensorsException(path + ": header length " + headerLen + " is not in 1.." + MAX_HEADER_BYTES);
            }
            if (8 + headerLen > fileSize) {
                throw new SafetensorsException(path + ": header length " + headerLen + " runs past the end of the file ("
                        + fileSize + " bytes): the file is truncated or not safetensors");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(channel, header, 8);
            String json = new String(header.array(), StandardCharsets.UTF_8);
            long dataSize = fileSize - 8 - headerLen;
            Map<String, TensorInfo> tensors = parseHeader(path, json, dataSize);
            return new SafetensorsFile(path, channel, 8 + headerLen, tensors);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new SafetensorsException(path + ": read failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    static Map<String, TensorInfo> parseHeader(Path path, String json, long dataSize) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(path + ": header must be a JSON object");
        }
        Map<String, TensorInfo> result = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            result.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataSize));
        }
        checkNoOverlap(path, result.values());
        return Collections.unmodifiableMap(result);
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode node, long dataSize) {
        String where = path + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsException(where + ": entry must be an object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafetensorsException(where + ": missing dtype");
        }
        DType dtype = DType.fromName(dtypeNode.asText()).orElseThrow(() -> new SafetensorsException(
                where + ": unsupported dtype '" + dtypeNode.asText() + "'; supported: " + DType.supported()));
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new SafetensorsException(where + ": missing shape");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || d.asLong() < 0) {
                throw new SafetensorsException(where + ": shape dimension " + i + " is not a non-negative integer: " + d);
            }
            shape[i] = d.asLong();
            elements = Math.multiplyExact(elements, shape[i]);
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()) {
            throw new SafetensorsException(where + ": data_offsets must be [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] are not an ordered range");
        }
        if (end > dataSize) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] run past the end of the data ("
                    + dataSize + " bytes): the file is truncated or corrupt");
        }
        long expected = elements * dtype.bytes();
        if (end - begin != expected) {
            throw new SafetensorsException(where + ": " + (end - begin) + " bytes at data_offsets, but " + dtype
                    + java.util.Arrays.toString(shape) + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Iterable<TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>();
        tensors.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo prev = sorted.get(i - 1);
            TensorInfo cur = sorted.get(i);
            if (cur.begin() < prev.end() && cur.byteLength() > 0 && prev.byteLength() > 0) {
                throw new SafetensorsException(path + ": tensors '" + prev.name() + "' [" + prev.begin() + ", " + prev.end()
                        + ") and '" + cur.name() + "' [" + cur.begin() + ", " + cur.end() + ") overlap");
            }
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new SafetensorsException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    /**
     * Reads {@code count} elements starting at element {@code first} of a tensor, converted to float32, into
     * {@code dst[dstOffset...]}.
     */
    public void readFloats(TensorInfo t, long first, float[] dst, int dstOffset, int count) {
        if (first < 0 || count < 0 || first + count > t.elementCount()) {
            throw new IndexOutOfBoundsException("elements [" + first + ", " + (first + count) + ") of " + t);
        }
        int width = t.dtype().bytes();
        ByteBuffer buf = mapped(t).slice((int) (first * width), count * width).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case F32 -> buf.asFloatBuffer().get(dst, dstOffset, count);
            case BF16 -> {
                var shorts = buf.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    dst[dstOffset + i] = DType.bf16ToFloat(shorts.get(i));
                }
            }
            case F16 -> {
                var shorts = buf.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    dst[dstOffset + i] = DType.f16ToFloat(shorts.get(i));
                }
            }
            // unscaled: the block scale is the checkpoint's to apply, which knows the scale tensor
            case F8_E4M3 -> {
                for (int i = 0; i < count; i++) {
                    dst[dstOffset + i] = DType.e4m3ToFloat(buf.get(i));
                }
            }
        }
    }

    /**
     * The whole tensor, mapped once and kept while reads stay on it: a column slice is read row by row, and
     * mapping each row separately would cost one mmap call per row.
     */
    private synchronized ByteBuffer mapped(TensorInfo t) {
        if (lastMapped == null || !lastMapped.equals(t)) {
            if (t.byteLength() > Integer.MAX_VALUE) {
                throw new SafetensorsException(path + ": tensor '" + t.name() + "' is over 2 GiB, which one mapping cannot hold");
            }
            lastMappedBuffer = map(t.begin(), t.byteLength());
            lastMapped = t;
        }
        return lastMappedBuffer;
    }

    private TensorInfo lastMapped;
    private ByteBuffer lastMappedBuffer;

    private ByteBuffer map(long offsetInData, long length) {
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + offsetInData, length).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new SafetensorsException(path + ": cannot map " + length + " bytes at " + (dataStart + offsetInData)
                    + ": " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing; the original error matters more
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }
}
