package io.pipefill.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --logits-out}: raw float32 little-endian, what numpy.fromfile(path, "<f4") reads back (the GPU check). */
final class LogitsFile {
    private LogitsFile() {
    }

    static void write(Path file, float[] logits) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(logits.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(logits);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.write(file, b.array());
    }

    static float[] read(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }
}
