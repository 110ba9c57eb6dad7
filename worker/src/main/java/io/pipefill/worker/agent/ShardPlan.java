package io.pipefill.worker.agent;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.ModelConfigException;
import io.pipefill.model.Topology;
import io.pipefill.model.agent.ShardAssignment;
import io.pipefill.worker.backends.Backends;
import io.pipefill.worker.backends.Placement;
import io.pipefill.model.ModelDirectory;
import io.pipefill.worker.pipeline.LoadedStage;
import java.nio.file.Path;
import java.util.stream.Collectors;

/** A checked shard assignment: the topology it describes, the threads to use and the stage's KV capacity. */
record ShardPlan(ShardAssignment assignment, Path modelDir, Topology topology, int threads, int kvCapacity,
                 Backends.Kind backend) {

    /** Checks everything that can be checked without loading; a 400 naming the field otherwise. */
    static ShardPlan of(ShardAssignment a, int defaultThreads, Backends.Kind backend) {
        require(a.deploymentId() != null && !a.deploymentId().isBlank(), "deploymentId is required");
        require(a.modelDir() != null && !a.modelDir().isBlank(), "modelDir is required");
        require(a.pp() >= 1 && a.tp() >= 1, "pp and tp must be at least 1, got pp=" + a.pp() + " tp=" + a.tp());
        require(a.rank() >= 0 && a.rank() < a.pp() * a.tp(), "rank " + a.rank() + " is outside [0, "
                + a.pp() * a.tp() + ") for pp " + a.pp() + " × tp " + a.tp());
        require(a.layersPerStage() != null && a.layersPerStage().size() == a.pp(), "layersPerStage must have one entry"
                + " per pipeline stage (pp=" + a.pp() + "), got " + a.layersPerStage());
        require(a.layersPerStage().stream().allMatch(n -> n != null && n > 0),
                "layersPerStage " + a.layersPerStage() + ": every stage needs at least one layer");
        require(a.threadsPerRank() >= 0, "threadsPerRank must be at least 1 (0: the worker's --threads), got "
                + a.threadsPerRank());
        require(a.maxTokens() >= 1, "maxTokens must be at least 1, got " + a.maxTokens());
        Path dir = Path.of(a.modelDir());
        ModelConfig c;
        try {
            c = ModelDirectory.open(dir).config();
        } catch (ModelConfigException e) {
            throw AgentException.badRequest("modelDir: " + e.getMessage());
        }
        int sum = a.layersPerStage().stream().mapToInt(Integer::intValue).sum();
        require(sum == c.numLayers(), "layersPerStage " + a.layersPerStage() + " sums to " + sum + " layers but the model at "
                + dir + " has " + c.numLayers());
        Topology topology;
        try {
            topology = Topology.of(c, a.pp(), a.tp(),
                    a.layersPerStage().stream().map(String::valueOf).collect(Collectors.joining(",")));
        } catch (IllegalArgumentException e) {
            throw AgentException.badRequest("pp/tp/layersPerStage: " + e.getMessage());
        }
        int threads = a.threadsPerRank() > 0 ? a.threadsPerRank() : defaultThreads;
        return new ShardPlan(a, dir, topology, threads,
                LoadedStage.kvCapacityFor(topology.stageOf(a.rank()), a.maxTokens()), backend);
    }

    private static void require(boolean ok, String detail) {
        if (!ok) {
            throw AgentException.badRequest("shard assignment: " + detail);
        }
    }

    LoadedStage load() {
        return LoadedStage.load(modelDir, topology, assignment.rank(), Placement.alone(backend), threads, kvCapacity);
    }
}
