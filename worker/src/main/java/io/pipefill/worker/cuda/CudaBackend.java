package io.pipefill.worker.cuda;

import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.engine.Backend;
import io.pipefill.worker.engine.Stage;
import io.pipefill.worker.engine.TensorParallel;
import io.pipefill.worker.model.Checkpoint;
import io.pipefill.worker.model.WeightLayout;

/**
 * BF16 compute on one NVIDIA GPU (sm_80 or newer) through the JavaCPP CUDA presets. The constructor probes for
 * the host's CUDA libraries before any JavaCPP CUDA class is touched, so a machine without them gets
 * {@link CudaLibraries}' message (every missing soname, every directory searched) and not an
 * UnsatisfiedLinkError. Created reflectively by {@code io.pipefill.worker.engine.Backends}, so the CPU path
 * never loads this class.
 */
public final class CudaBackend implements Backend {
    private final CudaDevice device;

    public CudaBackend() {
        this(0, CubinCache.defaultCache());
    }

    public CudaBackend(int deviceIndex, CubinCache cache) {
        CudaLibraries.probe().requireAll();
        this.device = new CudaDevice(deviceIndex, cache);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Stage loadStage(ModelConfig config, StageShard shard, TensorParallel tp, Checkpoint checkpoint, int kvCapacity) {
        Backend.checkLoadable(config, shard, tp, kvCapacity);
        LaunchGeometry.checkAttention(tp.count(config.numHeads()), tp.count(config.numKvHeads()), config.headDim());
        WeightLayout.Stage layout = WeightLayout.plan(config, shard, tp, checkpoint);
        return new CudaStage(device, config, shard, tp, layout, checkpoint, kvCapacity);
    }

    @Override
    public void close() {
        device.close();
    }
}
