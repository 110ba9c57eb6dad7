package io.pipefill.controlplane.archfixture;

import io.pipefill.worker.backends.Backends;

/**
 * A deliberate breach of the module rule, in the control plane's packages but outside its production classes:
 * {@code ArchitectureTest} shows that the rule catches it.
 */
final class ImportsTheWorker {
    private ImportsTheWorker() {
    }

    static String backend() {
        return Backends.Kind.cpu.name();
    }
}
