package io.pipefill.worker.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Scratch buffers one per thread of a stage's pool (native memory for BLAS among them), all closed together with the
 * stage: a ThreadLocal alone would leave them to the garbage collector.
 */
final class PerThreadScratch<T> implements AutoCloseable {
    private final ThreadLocal<T> local;
    private final Consumer<T> release;
    private final List<T> all = new ArrayList<>();

    PerThreadScratch(Supplier<T> create, Consumer<T> release) {
        this.release = release;
        this.local = ThreadLocal.withInitial(() -> {
            T s = create.get();
            synchronized (all) {
                all.add(s);
            }
            return s;
        });
    }

    /** This thread's scratch, made on its first use. */
    T get() {
        return local.get();
    }

    @Override
    public void close() {
        synchronized (all) {
            all.forEach(release);
            all.clear();
        }
    }
}
