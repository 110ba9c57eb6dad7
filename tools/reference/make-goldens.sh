#!/usr/bin/env bash
# Regenerates the committed tiny test models and their golden logits.
# Models come from `pipefill model create` (deterministic); logits from the independent float64 PyTorch
# implementation beside this script (Debian: apt-get install python3-torch python3-numpy).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RES="$ROOT/worker/src/test/resources"
PY="${PYTHON:-/usr/bin/python3}"
mkdir -p "$RES/models" "$RES/golden"

create() { # name, then model create flags
  local name=$1; shift
  rm -rf "${RES:?}/models/$name"
  "$ROOT/pipefill" model create --out "$RES/models/$name" "$@"
}
create tiny-llama   --arch llama   --preset tiny --seed 1
create tiny-mistral --arch mistral --preset tiny --seed 2 --layers 2 --hidden 96 --heads 6 --kv-heads 2 --head-dim 16 --intermediate 256
create tiny-qwen2   --arch qwen2   --preset tiny --seed 3 --layers 2 --kv-heads 1
create tiny-qwen3   --arch qwen3   --preset tiny --seed 4 --layers 2 --head-dim 48
# 3 layers: sparse, dense (mlp_only_layers [1]), sparse; 8 experts, top-2
create tiny-qwen3-moe --arch qwen3-moe --preset tiny --seed 5 --layers 3
# block-scaled FP8 projections; hidden 256 gives the [128, 128] blocks a second column
create tiny-qwen3-moe-fp8 --arch qwen3-moe --preset tiny --seed 6 --layers 3 --hidden 256 --dtype fp8
# MLA + group-limited sigmoid MoE with shared experts; the FP8 one uses a plain q_proj (--q-lora-rank 0 = null)
create tiny-deepseek-v3 --arch deepseek-v3 --preset tiny --seed 8
create tiny-deepseek-v3-fp8 --arch deepseek-v3 --preset tiny --seed 9 --hidden 256 --dtype fp8 --q-lora-rank 0

# a 300-token prompt crosses the CPU attention's 256-key blocks and 128-row tiles
TOKENS=$("$PY" -c "import random; r=random.Random(7); print(','.join(str(r.randrange(256)) for _ in range(300)))")
for name in tiny-llama tiny-mistral tiny-qwen2 tiny-qwen3 tiny-qwen3-moe tiny-qwen3-moe-fp8 \
            tiny-deepseek-v3 tiny-deepseek-v3-fp8; do
  check=()
  # the mixture-of-experts models are also run through the reference's second formulation (routing by plain
  # loops; for DeepSeek-V3 also MLA with absorbed projections)
  [[ $name == *moe* || $name == *deepseek* ]] && check=(--self-check 64)
  "$PY" "$ROOT/tools/reference/torch_reference.py" --model "$RES/models/$name" --tokens "256,$TOKENS" \
    --max-new-tokens 4 "${check[@]}" --out "$RES/golden/$name.json"
  echo "golden: $name"
done
