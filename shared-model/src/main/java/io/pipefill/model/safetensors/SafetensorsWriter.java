package io.pipefill.model.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a safetensors file tensor by tensor, streaming each tensor's values from a generator so that
 * multi-gigabyte checkpoints never sit in memory.
 */
public final class SafetensorsWriter {
    /** Fills {@code count} consecutive elements starting at element {@code first} of a tensor. */
    @FunctionalInterface
    public interface Filler {
        void fill(long first, float[] block, int count);
    }

    private record Pending(String name, DType dtype, long[] shape, Filler filler) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private static final int BLOCK = 1 << 16;
    private final List<Pending> tensors = new ArrayList<>();

    public SafetensorsWriter add(String name, DType dtype, long[] shape, Filler filler) {
        tensors.add(new Pending(name, dtype, shape.clone(), filler));
        return this;
    }

    public void write(Path file) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode header = mapper.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Pending t : tensors) {
            long bytes = t.elements() * t.dtype().bytes();
            ObjectNode entry = header.putObject(t.name());
            entry.put("dtype", t.dtype().name());
            var shape = entry.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            var offs = entry.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + bytes);
            offset += bytes;
        }
        byte[] json = mapper.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the format pads the header with spaces to 8-byte alignment
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) {
                head.put((byte) ' ');
            }
            head.flip();
            writeFully(ch, head);
            float[] block = new float[BLOCK];
            ByteBuffer out = ByteBuffer.allocate(BLOCK * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (Pending t : tensors) {
                long n = t.elements();
                for (long first = 0; first < n; first += BLOCK) {
                    int count = (int) Math.min(BLOCK, n - first);
                    t.filler().fill(first, block, count);
                    out.clear();
                    for (int i = 0; i < count; i++) {
                        switch (t.dtype()) {
                            case F32 -> out.putFloat(block[i]);
                            case BF16 -> out.putShort(DType.floatToBf16(block[i]));
                            case F8_E4M3 -> out.put(DType.floatToE4M3(block[i]));
                            case F16 -> throw new UnsupportedOperationException("writing F16 is not supported");
                        }
                    }
                    out.flip();
                    writeFully(ch, out);
                }
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
