package io.pipefill.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReadsEveryDtype() throws Exception {
        Path f = dir.resolve("a.safetensors");
        new SafetensorsWriter()
                .add("x", DType.F32, new long[] {2, 3}, (first, block, count) -> {
                    for (int i = 0; i < count; i++) {
                        block[i] = (first + i) * 0.5f;
                    }
                })
                .add("y", DType.BF16, new long[] {4}, (first, block, count) -> {
                    for (int i = 0; i < count; i++) {
                        block[i] = 1.0f / (first + i + 1);
                    }
                })
                .write(f);
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(2, st.tensors().size());
            TensorInfo x = st.info("x");
            assertArrayEquals(new long[] {2, 3}, x.shape());
            float[] out = new float[6];
            st.readFloats(x, 0, out, 0, 6);
            assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f, 2, 2.5f}, out);
            float[] y = new float[4];
            st.readFloats(st.info("y"), 0, y, 0, 4);
            // bf16 keeps 8 bits of mantissa: 1/3 becomes 0.333984375
            assertArrayEquals(new float[] {1f, 0.5f, 0.333984375f, 0.25f}, y);
            float[] part = new float[2];
            st.readFloats(x, 3, part, 0, 2);
            assertArrayEquals(new float[] {1.5f, 2f}, part);
        }
    }

    @Test
    void readsF16() throws Exception {
        short[] halves = {0x3C00, (short) 0xC000, 0x3555, 0x0001, 0x7C00};
        Path f = raw("{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]}}", halves.length * 2);
        ByteBuffer data = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
        for (short h : halves) {
            data.putShort(h);
        }
        byte[] all = Files.readAllBytes(f);
        System.arraycopy(data.array(), 0, all, all.length - 10, 10);
        Files.write(f, all);
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            float[] out = new float[5];
            st.readFloats(st.info("h"), 0, out, 0, 5);
            assertArrayEquals(new float[] {1f, -2f, 0.33325195f, 5.9604645e-8f, Float.POSITIVE_INFINITY}, out);
        }
    }

    /** A file with the given header JSON followed by {@code dataBytes} zero bytes. */
    private Path raw(String header, int dataBytes) throws Exception {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        Path f = Files.createTempFile(dir, "t", ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private String openError(Path f) {
        return assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(f).close()).getMessage();
    }

    @Test
    void rejectsTruncatedFiles() throws Exception {
        Path tiny = dir.resolve("short.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertTrue(openError(tiny).contains("truncated: 3 bytes"));
        Path f = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length - 4));
        String m = openError(f);
        assertTrue(m.contains("tensor 'x'") && m.contains("run past the end of the data (12 bytes)"), m);
    }

    @Test
    void rejectsHeaderLengthPastTheEnd() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(1000);
        Path f = dir.resolve("h.safetensors");
        Files.write(f, b.array());
        String m = openError(f);
        assertTrue(m.contains("header length 1000 runs past the end of the file (20 bytes)"), m);
        b.putLong(0, -5);
        Files.write(f, b.array());
        assertTrue(openError(f).contains("header length -5 is not in"));
    }

    @Test
    void rejectsMalformedHeader() throws Exception {
        assertTrue(openError(raw("{not json", 0)).contains("header is not valid JSON"));
        assertTrue(openError(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)).contains("data_offsets must be [begin, end]"));
        assertTrue(openError(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4))
                .contains("shape dimension 0 is not a non-negative integer"));
    }

    @Test
    void rejectsUnknownDtype() throws Exception {
        String m = openError(raw("{\"x\":{\"dtype\":\"F8_E5M2\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4));
        assertTrue(m.contains("tensor 'x'") && m.contains("unsupported dtype 'F8_E5M2'") && m.contains("BF16, F16, F32, F8_E4M3"), m);
    }

    @Test
    void fp8TensorsGetTheSameSizeCheckAtOneBytePerElement() throws Exception {
        String m = openError(raw("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8));
        assertTrue(m.contains("tensor 'x'") && m.contains("8 bytes at data_offsets"), m);
    }

    @Test
    void rejectsOverlapsAndOutOfRangeOffsets() throws Exception {
        String m = openError(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        assertTrue(m.contains("'a' [0, 8) and 'b' [4, 12) overlap"), m);
        assertTrue(openError(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8))
                .contains("are not an ordered range"));
        assertTrue(openError(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12))
                .contains("12 bytes at data_offsets, but F32[2] needs 8"));
    }

    @Test
    void namesMissingTensorsAndFiles() throws Exception {
        Path f = raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertTrue(assertThrows(SafetensorsException.class, () -> st.info("b")).getMessage().contains("no tensor named 'b'"));
        }
        assertTrue(openError(dir.resolve("none.safetensors")).contains("not found"));
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, DType.bf16ToFloat(DType.floatToBf16(1.0f)));
        // 1 + 2^-8 is exactly between two bf16 values: ties to even (1.0)
        assertEquals(1.0f, DType.bf16ToFloat(DType.floatToBf16(1.0f + 0x1p-8f)));
        assertEquals(1.0f + 0x1p-7f, DType.bf16ToFloat(DType.floatToBf16(1.0f + 0x1p-8f + 0x1p-12f)));
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(Float.NaN))));
    }
}
