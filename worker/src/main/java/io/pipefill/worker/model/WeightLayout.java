package io.pipefill.worker.model;

import io.pipefill.model.MlaConfig;
import io.pipefill.model.MoeConfig;
import io.pipefill.model.WeightNames;
import io.pipefill.model.ModelConfig;
import io.pipefill.model.StageShard;
import io.pipefill.worker.model.TensorParallel;
import io.pipefill.model.safetensors.DType;
import io.pipefill.model.safetensors.TensorInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * Which blocks of which checkpoint tensors make up each weight buffer of a stage, for every backend: fused
 * [q; k; v] and [gate; up] rows (one GEMM each) and this rank's tensor-parallel slice (q/k/v/gate/up split by
 * output rows, o/down by input columns). Backends stream the buffers out with {@link #read} (float32, the CPU
 * backend) or {@link #pack} (BF16, the CUDA backend) and never slice tensors themselves.
 */
public final class WeightLayout {

    /** Rows [row0, row0 + rowCount) × columns [col0, col0 + colCount) of a tensor; a 1-D tensor is one row. */
    public record Block(TensorInfo tensor, long row0, long rowCount, long col0, long colCount) {
        static Block whole(TensorInfo t) {
            return new Block(t, 0, rows(t), 0, cols(t));
        }

        static Block rowRange(TensorInfo t, long row0, long count) {
            return new Block(t, row0, count, 0, cols(t));
        }

        static Block colRange(TensorInfo t, long col0, long count) {
            return new Block(t, 0, rows(t), col0, count);
        }

        static long rows(TensorInfo t) {
            return t.shape().length == 1 ? 1 : t.shape()[0];
        }

        static long cols(TensorInfo t) {
            return t.shape().length == 1 ? t.shape()[0] : t.shape()[1];
        }

        public long elements() {
            return rowCount * colCount;
        }
    }

    /** One weight buffer: its blocks' rows stacked in order, row-major, {@code cols} wide. */
    public record Buffer(String name, List<Block> blocks) {
        public Buffer {
            blocks = List.copyOf(blocks);
            long cols = blocks.get(0).colCount();
            for (Block b : blocks) {
                // 1-D slices (the q/k/v biases) are laid end to end; matrix blocks stack rows of one width
                if (b.tensor().shape().length == 2 && b.colCount() != cols) {
                    throw new IllegalArgumentException(name + " stacks blocks of different widths");
                }
            }
        }

        public long elements() {
            return blocks.stream().mapToLong(Block::elements).sum();
        }

        public long rows() {
            return blocks.stream().mapToLong(Block::rowCount).sum();
        }

        public long cols() {
            return blocks.get(0).colCount();
        }

        public long bf16Bytes() {
            return elements() * 2;
        }
    }

    /** One SwiGLU expert's slice: fused [gate; up] rows and down's columns, like the dense MLP's. */
    public record Expert(Buffer gateUp, Buffer down) {
    }

    /**
     * A sparse MLP: the router (whole on every rank) with its score correction (DeepSeek-V3, else null), every
     * expert's tensor-parallel slice and the shared experts' slice (null without shared experts).
     */
    public record Moe(Buffer router, Buffer correctionBias, List<Expert> experts, Expert shared) {
        public Moe {
            experts = List.copyOf(experts);
        }
    }

    /**
     * Latent attention's projections (DeepSeek-V3): the low-rank query path (qA, qANorm, then qB) or one q, split
     * by heads; kv_a (latent and rotary key) and its norm whole on every rank, since every head reads the latent;
     * kv_b split by heads. o_proj is the layer's {@code o}, split by heads' value columns.
     */
    public record Latent(Buffer qA, Buffer qANorm, Buffer qB, Buffer q, Buffer kvA, Buffer kvANorm, Buffer kvB) {
        List<Buffer> all() {
            List<Buffer> out = new ArrayList<>();
            for (Buffer b : new Buffer[] {qA, qANorm, qB, q, kvA, kvANorm, kvB}) {
                if (b != null) {
                    out.add(b);
                }
            }
            return out;
        }
    }

    /**
     * One decoder layer's buffers; the optional ones are null when the architecture has none. A sparse layer
     * has {@code moe} and no dense gateUp/down; a latent-attention layer has {@code latent} and no qkv.
     */
    public record Layer(Buffer inputNorm, Buffer qkv, Buffer qkvBias, Buffer qNorm, Buffer kNorm, Buffer o, Buffer oBias,
                        Buffer postNorm, Buffer gateUp, Buffer down, Moe moe, Latent latent) {
        public List<Buffer> all() {
            List<Buffer> out = new ArrayList<>();
            for (Buffer b : new Buffer[] {inputNorm, qkv, qkvBias, qNorm, kNorm, o, oBias, postNorm, gateUp, down}) {
                if (b != null) {
                    out.add(b);
                }
            }
            if (latent != null) {
                out.addAll(latent.all());
            }
            if (moe != null) {
                out.add(moe.router());
                if (moe.correctionBias() != null) {
                    out.add(moe.correctionBias());
                }
                List<Expert> experts = new ArrayList<>(moe.experts());
                if (moe.shared() != null) {
                    experts.add(moe.shared());
                }
                for (Expert e : experts) {
                    out.add(e.gateUp());
                    out.add(e.down());
                }
            }
            return out;
        }
    }

    /**
     * A stage's buffers. {@code lmHeadIsEmbedding}: tied weights on a stage that also holds the embedding
     * share one buffer.
     */
    public record Stage(Buffer embedding, List<Layer> layers, Buffer finalNorm, Buffer lmHead, boolean lmHeadIsEmbedding) {
        public long bf16Bytes() {
            long n = 0;
            if (embedding != null) {
                n += embedding.bf16Bytes();
            }
            for (Layer l : layers) {
                for (Buffer b : l.all()) {
                    n += b.bf16Bytes();
                }
            }
            if (finalNorm != null) {
                n += finalNorm.bf16Bytes();
            }
            if (lmHead != null && !lmHeadIsEmbedding) {
                n += lmHead.bf16Bytes();
            }
            return n;
        }
    }

    private WeightLayout() {
    }

    /** The layout of one stage's tensor-parallel slice; checks every tensor's shape against the config. */
    public static Stage plan(ModelConfig c, StageShard shard, TensorParallel tp, Checkpoint ckpt) {
        long h = c.hiddenSize();
        long q = c.qDim();
        long kv = c.kvDim();
        long q0 = tp.start(c.qDim());
        long qn = tp.count(c.qDim());
        long kv0 = tp.start(c.kvDim());
        long kvn = tp.count(c.kvDim());
        Buffer embedding = null;
        if (shard.embedding()) {
            embedding = new Buffer("embedding", List.of(Block.whole(ckpt.require(WeightNames.EMBED, c.vocabSize(), h))));
        }
        List<Layer> layers = new ArrayList<>();
        for (int l = shard.firstLayer(); l < shard.endLayer(); l++) {
            Buffer inNorm = vec("layer " + l + " input norm", ckpt.require(WeightNames.inputNorm(l), h), 0, h);
            Buffer postNorm = vec("layer " + l + " post norm", ckpt.require(WeightNames.postAttentionNorm(l), h), 0, h);
            Buffer gateUp = null;
            Buffer down = null;
            Moe moe = null;
            if (c.isSparseLayer(l)) {
                moe = moe(c, l, tp, ckpt);
            } else {
                Expert mlp = swiGlu(ckpt, "layer " + l + " ", WeightNames.mlp(l, "gate_proj"), WeightNames.mlp(l, "up_proj"),
                        WeightNames.mlp(l, "down_proj"), c.intermediateSize(), h, tp);
                gateUp = mlp.gateUp();
                down = mlp.down();
            }
            if (c.mla() != null) {
                Latent latent = latent(c, l, tp, ckpt);
                long v = c.mla().vHeadDim();
                Buffer o = new Buffer("layer " + l + " o_proj", List.of(Block.colRange(
                        ckpt.require(WeightNames.attn(l, "o_proj"), h, c.numHeads() * v), tp.start(c.numHeads()) * v,
                        tp.count(c.numHeads()) * v)));
                layers.add(new Layer(inNorm, null, null, null, null, o, null, postNorm, gateUp, down, moe, latent));
                continue;
            }
            Buffer qkv = new Buffer("layer " + l + " qkv", List.of(
                    Block.rowRange(ckpt.require(WeightNames.attn(l, "q_proj"), q, h), q0, qn),
                    Block.rowRange(ckpt.require(WeightNames.attn(l, "k_proj"), kv, h), kv0, kvn),
                    Block.rowRange(ckpt.require(WeightNames.attn(l, "v_proj"), kv, h), kv0, kvn)));
            Buffer qkvBias = null;
            if (c.qkvBias()) {
                // a bias is one row: its slices are column ranges, concatenated into one row of width qn + 2 kvn
                qkvBias = concatVectors("layer " + l + " qkv bias",
                        Block.colRange(ckpt.require(WeightNames.attnBias(l, "q_proj"), q), q0, qn),
                        Block.colRange(ckpt.require(WeightNames.attnBias(l, "k_proj"), kv), kv0, kvn),
                        Block.colRange(ckpt.require(WeightNames.attnBias(l, "v_proj"), kv), kv0, kvn));
            }
            Buffer qNorm = null;
            Buffer kNorm = null;
            if (c.qkNorm()) {
                qNorm = vec("layer " + l + " q norm", ckpt.require(WeightNames.qNorm(l), c.headDim()), 0, c.headDim());
                kNorm = vec("layer " + l + " k norm", ckpt.require(WeightNames.kNorm(l), c.headDim()), 0, c.headDim());
            }
            Buffer o = new Buffer("layer " + l + " o_proj",
                    List.of(Block.colRange(ckpt.require(WeightNames.attn(l, "o_proj"), h, q), q0, qn)));
            Buffer oBias = c.oBias() ? vec("layer " + l + " o bias", ckpt.require(WeightNames.attnBias(l, "o_proj"), h), 0, h) : null;
            layers.add(new Layer(inNorm, qkv, qkvBias, qNorm, kNorm, o, oBias, postNorm, gateUp, down, moe, null));
        }
        Buffer finalNorm = null;
        Buffer lmHead = null;
        boolean shared = false;
        if (shard.head()) {
            finalNorm = vec("final norm", ckpt.require(WeightNames.FINAL_NORM, h), 0, h);
            if (c.tieWordEmbeddings()) {
                shared = embedding != null;
                lmHead = shared ? embedding
                        : new Buffer("lm_head", List.of(Block.whole(ckpt.require(WeightNames.EMBED, c.vocabSize(), h))));
            } else {
                lmHead = new Buffer("lm_head", List.of(Block.whole(ckpt.require(WeightNames.LM_HEAD, c.vocabSize(), h))));
            }
        }
        return new Stage(embedding, layers, finalNorm, lmHead, shared);
    }

    /**
     * A sparse layer: the router whole (every rank routes every token the same way), each expert and the shared
     * experts split like the dense MLP (gate/up by output rows, down by input columns), so their partial sums join
     * the one all-reduce after the layer's MLP.
     */
    private static Moe moe(ModelConfig c, int l, TensorParallel tp, Checkpoint ckpt) {
        long h = c.hiddenSize();
        MoeConfig m = c.moe();
        int experts = m.numExperts();
        Buffer router = new Buffer("layer " + l + " router", List.of(Block.whole(ckpt.require(WeightNames.router(l), experts, h))));
        Buffer correction = m.routing().correctionBias() ? new Buffer("layer " + l + " router score correction",
                List.of(Block.whole(ckpt.require(WeightNames.routerCorrectionBias(l), experts)))) : null;
        List<Expert> list = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            list.add(swiGlu(ckpt, "layer " + l + " expert " + e + " ", WeightNames.expert(l, e, "gate_proj"),
                    WeightNames.expert(l, e, "up_proj"), WeightNames.expert(l, e, "down_proj"), m.expertIntermediateSize(),
                    h, tp));
        }
        Expert shared = m.sharedExperts() == 0 ? null : swiGlu(ckpt, "layer " + l + " shared experts ",
                WeightNames.sharedExpert(l, "gate_proj"), WeightNames.sharedExpert(l, "up_proj"),
                WeightNames.sharedExpert(l, "down_proj"), m.sharedIntermediateSize(), h, tp);
        return new Moe(router, correction, list, shared);
    }

    /** A SwiGLU MLP of width {@code inter}: this rank's rows of gate and up (fused) and columns of down. */
    private static Expert swiGlu(Checkpoint ckpt, String what, String gate, String up, String down, int inter, long h,
                                 TensorParallel tp) {
        long i0 = tp.start(inter);
        long in = tp.count(inter);
        Buffer gateUp = new Buffer(what + "gate_up", List.of(
                Block.rowRange(ckpt.require(gate, inter, h), i0, in),
                Block.rowRange(ckpt.require(up, inter, h), i0, in)));
        Buffer downBuffer = new Buffer(what + "down_proj", List.of(Block.colRange(ckpt.require(down, h, inter), i0, in)));
        return new Expert(gateUp, downBuffer);
    }

    /** Latent attention's buffers (see {@link Latent}): heads split, the latent path whole. */
    private static Latent latent(ModelConfig c, int l, TensorParallel tp, Checkpoint ckpt) {
        MlaConfig a = c.mla();
        long h = c.hiddenSize();
        long heads = c.numHeads();
        long head0 = tp.start(c.numHeads());
        long headCount = tp.count(c.numHeads());
        String p = "layer " + l + " ";
        Buffer qA = null;
        Buffer qANorm = null;
        Buffer qB = null;
        Buffer q = null;
        if (a.hasQLora()) {
            qA = new Buffer(p + "q_a_proj", List.of(Block.whole(ckpt.require(WeightNames.attn(l, "q_a_proj"), a.qLoraRank(), h))));
            qANorm = vec(p + "q_a_layernorm", ckpt.require(WeightNames.attnNorm(l, "q_a_layernorm"), a.qLoraRank()), 0,
                    a.qLoraRank());
            qB = new Buffer(p + "q_b_proj", List.of(Block.rowRange(ckpt.require(WeightNames.attn(l, "q_b_proj"),
                    heads * a.qkHeadDim(), a.qLoraRank()), head0 * a.qkHeadDim(), headCount * a.qkHeadDim())));
        } else {
            q = new Buffer(p + "q_proj", List.of(Block.rowRange(ckpt.require(WeightNames.attn(l, "q_proj"),
                    heads * a.qkHeadDim(), h), head0 * a.qkHeadDim(), headCount * a.qkHeadDim())));
        }
        Buffer kvA = new Buffer(p + "kv_a_proj_with_mqa", List.of(Block.whole(ckpt.require(
                WeightNames.attn(l, "kv_a_proj_with_mqa"), a.compressedKvDim(), h))));
        Buffer kvANorm = vec(p + "kv_a_layernorm", ckpt.require(WeightNames.attnNorm(l, "kv_a_layernorm"), a.kvLoraRank()),
                0, a.kvLoraRank());
        long perHead = a.qkNopeHeadDim() + a.vHeadDim();
        Buffer kvB = new Buffer(p + "kv_b_proj", List.of(Block.rowRange(ckpt.require(WeightNames.attn(l, "kv_b_proj"),
                heads * perHead, a.kvLoraRank()), head0 * perHead, headCount * perHead)));
        return new Latent(qA, qANorm, qB, q, kvA, kvANorm, kvB);
    }

    private static Buffer vec(String name, TensorInfo t, long start, long count) {
        return new Buffer(name, List.of(Block.colRange(t, start, count)));
    }

    /** 1-D slices laid end to end into one vector. */
    private static Buffer concatVectors(String name, Block... parts) {
        return new Buffer(name, List.of(parts));
    }

    /** Receives float32 elements [at, at + count) of a buffer, in order. */
    @FunctionalInterface
    public interface FloatSink {
        void accept(long at, float[] values, int count);
    }

    /** Receives packed BF16 elements [at, at + count) of a buffer, in order. */
    @FunctionalInterface
    public interface Sink {
        void accept(long at, short[] bf16, int count);
    }

    /** Reads a buffer's blocks as float32 and streams them in order; whole rows are read in large blocks. */
    public static void read(Checkpoint ckpt, Buffer buffer, FloatSink sink) {
        float[] f = new float[1 << 16];
        long at = 0;
        for (Block b : buffer.blocks()) {
            long cols = Block.cols(b.tensor());
            if (b.colCount() == cols) {
                // whole rows are contiguous in the file
                long first = b.row0() * cols;
                long n = b.elements();
                for (long done = 0; done < n; done += f.length) {
                    int count = (int) Math.min(f.length, n - done);
                    ckpt.readFloats(b.tensor(), first + done, f, 0, count);
                    sink.accept(at + done, f, count);
                }
            } else {
                int w = (int) b.colCount();
                float[] row = new float[w];
                for (long r = 0; r < b.rowCount(); r++) {
                    ckpt.readFloats(b.tensor(), (b.row0() + r) * cols + b.col0(), row, 0, w);
                    sink.accept(at + r * w, row, w);
                }
            }
            at += b.elements();
        }
    }

    /** A whole (small) buffer as one float32 array: norms and biases. */
    public static float[] readAll(Checkpoint ckpt, Buffer buffer) {
        float[] out = new float[checkedSize(buffer)];
        read(ckpt, buffer, (at, values, count) -> System.arraycopy(values, 0, out, (int) at, count));
        return out;
    }

    /** Reads a buffer as float32, converts it to BF16 (round to nearest even) and streams it in order. */
    public static void pack(Checkpoint ckpt, Buffer buffer, Sink sink) {
        short[][] s = {new short[1 << 16]};
        read(ckpt, buffer, (at, values, count) -> {
            if (s[0].length < count) {
                s[0] = new short[count]; // a column slice wider than the block size
            }
            for (int i = 0; i < count; i++) {
                s[0][i] = DType.floatToBf16(values[i]);
            }
            sink.accept(at, s[0], count);
        });
    }

    /** A whole (small) buffer packed into one array, for tests and for the norms. */
    public static short[] packAll(Checkpoint ckpt, Buffer buffer) {
        short[] out = new short[checkedSize(buffer)];
        pack(ckpt, buffer, (at, bf16, count) -> System.arraycopy(bf16, 0, out, (int) at, count));
        return out;
    }

    private static int checkedSize(Buffer buffer) {
        long n = buffer.elements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(buffer.name() + " is too large for one array");
        }
        return (int) n;
    }
}
