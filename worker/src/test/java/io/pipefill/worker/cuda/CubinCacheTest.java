package io.pipefill.worker.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CubinCacheTest {
    @TempDir
    Path dir;

    @Test
    void compilesOnceThenReusesTheFile() {
        CubinCache cache = new CubinCache(dir.resolve("cubin"));
        AtomicInteger compiles = new AtomicInteger();
        String key = KernelSources.cacheKey("rope.cu", "sm_90", "nvrtc-13.1");
        byte[] first = cache.getOrCompile(key, () -> {
            compiles.incrementAndGet();
            return new byte[] {1, 2, 3};
        });
        byte[] second = cache.getOrCompile(key, () -> {
            compiles.incrementAndGet();
            return new byte[] {9};
        });
        assertEquals(1, compiles.get());
        assertArrayEquals(first, second);
        assertTrue(Files.isRegularFile(cache.path(key)));
        assertEquals(key, cache.path(key).getFileName().toString());
        try (var s = assertDoesNotThrowList(cache.dir())) {
            assertEquals(1, s.count(), "no temporary file is left behind");
        }
    }

    @Test
    void anotherArchitectureOrCompilerIsAnotherFile() {
        CubinCache cache = new CubinCache(dir);
        AtomicInteger compiles = new AtomicInteger();
        for (String[] v : new String[][] {{"sm_90", "nvrtc-13.1"}, {"sm_100", "nvrtc-13.1"}, {"sm_90", "nvrtc-13.2"}}) {
            cache.getOrCompile(KernelSources.cacheKey("rope.cu", v[0], v[1]), () -> {
                compiles.incrementAndGet();
                return new byte[] {4};
            });
        }
        assertEquals(3, compiles.get());
        assertNotEquals(KernelSources.cacheKey("rope.cu", "sm_90", "x"), KernelSources.cacheKey("attention.cu", "sm_90", "x"));
    }

    @Test
    void aTornEmptyEntryIsRecompiled() throws Exception {
        CubinCache cache = new CubinCache(dir);
        String key = KernelSources.cacheKey("attention.cu", "sm_90", "nvrtc-13.1");
        Files.createDirectories(dir);
        Files.write(cache.path(key), new byte[0]);
        assertArrayEquals(new byte[] {7}, cache.getOrCompile(key, () -> new byte[] {7}));
        assertArrayEquals(new byte[] {7}, Files.readAllBytes(cache.path(key)));
    }

    @Test
    void clearInvalidatesEverything() {
        CubinCache cache = new CubinCache(dir);
        AtomicInteger compiles = new AtomicInteger();
        String key = KernelSources.cacheKey("rope.cu", "sm_90", "nvrtc-13.1");
        cache.getOrCompile(key, () -> new byte[] {(byte) compiles.incrementAndGet()});
        cache.clear();
        cache.getOrCompile(key, () -> new byte[] {(byte) compiles.incrementAndGet()});
        assertEquals(2, compiles.get());
    }

    @Test
    void emptyCompilerOutputAndPathLikeKeysAreRefused() {
        CubinCache cache = new CubinCache(dir);
        assertThrows(IllegalStateException.class, () -> cache.getOrCompile("x.cubin", () -> new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> cache.path("../x.cubin"));
    }

    @Test
    void defaultCacheLivesUnderPipefill() {
        Path p = CubinCache.defaultCache().dir();
        assertTrue(p.endsWith(Path.of("pipefill", "cubin")), p.toString());
    }

    private static java.util.stream.Stream<Path> assertDoesNotThrowList(Path d) {
        try {
            return Files.list(d);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
