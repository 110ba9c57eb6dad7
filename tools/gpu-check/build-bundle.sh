#!/usr/bin/env bash
# Builds dist/pipefill-gpu-check.tgz: everything a GPU host without Java or network needs to check the CUDA
# backend in one call (tools/gpu-check/README.md). Runs here, on a CPU-only machine:
#   - builds the project and jlinks a small JDK 17 runtime (the modules the worker uses, nothing else);
#   - collects the worker jar, the cli jar (the pipefill command), the gpu-probes jar (the Java probes check.py
#     runs) and the runtime jars of the
#     CUDA path, leaving out the big native jars the GPU host does not need (OpenBLAS' linux jar, DJL's
#     tokenizers: the check gives prompts as token ids);
#   - computes the CPU goldens (last-position logits and greedy tokens) for the tiny and small presets and for
#     tiny under --random-weights, from fixed seeds and a fixed prompt of token ids;
#   - records the SHA-256 of each model it generated: the GPU host regenerates the models from the same seeds
#     (small is ~250 MB, too big to carry) and checks it got the same bytes;
#   - asserts the archive is under 60 MB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/gpu-check"
DIST="$ROOT/dist"
STAGE="$DIST/pipefill-gpu-check"
TGZ="$DIST/pipefill-gpu-check.tgz"
MAX_BYTES=$((60 * 1000 * 1000))
# the prompt and chunking of the parity checks; check.py reads them back from goldens/manifest.json
TINY_TOKENS=200
SMALL_TOKENS=256
PROMPT_SEED=7
NEW_TOKENS=4
RANDOM_WEIGHT_SEED=1

say() { printf 'build-bundle: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

JDK="${PIPEFILL_BUNDLE_JDK:-}"
if [[ -z "$JDK" ]]; then
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk /usr/lib/jvm/temurin-17-jdk-amd64; do
    if [[ -n "$cand" && -x "$cand/bin/jlink" && -d "$cand/jmods" ]]; then JDK="$cand"; break; fi
  done
fi
[[ -n "$JDK" ]] || die "no JDK 17 with jlink and jmods found (set PIPEFILL_BUNDLE_JDK); the bundle's runtime must be 17 to match the bytecode level and stay small"
"$JDK/bin/java" -version 2>&1 | head -1 | grep -q '"17' || die "$JDK is not a JDK 17 (set PIPEFILL_BUNDLE_JDK)"

# a reactor build of what the bundle carries (the worker, the GPU probes and the command line, with what they
# depend on): no install, so the local repository's snapshots stay as they are; PIPEFILL_BUNDLE_MVN_OPTS adds
# flags (e.g. -o)
say "building the worker, the GPU probes and the command line (mvn package -DskipTests)"
(cd "$ROOT" && mvn -B -q ${PIPEFILL_BUNDLE_MVN_OPTS:-} -pl worker,gpu-probes,cli -am package -DskipTests) \
  || die "the Maven build failed"
WORKER_JAR="$(ls "$ROOT"/worker/target/worker-*.jar | grep -v -e sources -e javadoc -e tests | head -1)"
[[ -f "$WORKER_JAR" ]] || die "no worker jar under worker/target"
# the pipefill command (PipefillCli); the control plane's jars stay behind: the commands the check runs never load
# them (cli's LocalCluster is the only class that touches Spring)
CLI_JAR="$(ls "$ROOT"/cli/target/cli-*.jar | grep -v -e sources -e javadoc -e tests | head -1)"
[[ -f "$CLI_JAR" ]] || die "no cli jar under cli/target"
# GemmProbe, NcclProbe, CudnnAttentionProbe: diagnostics check.py runs, kept out of the worker jar
PROBES_JAR="$(ls "$ROOT"/gpu-probes/target/gpu-probes-*.jar | grep -v -e sources -e javadoc | head -1)"
[[ -f "$PROBES_JAR" ]] || die "no gpu-probes jar under gpu-probes/target"

rm -rf "$STAGE" "$TGZ"
mkdir -p "$STAGE/lib" "$STAGE/goldens"

say "jlink: a JDK 17 runtime"
# java.base..jdk.crypto.ec: the worker and its libraries (DESIGN.md, Known traps); jdk.incubator.vector,
# jdk.httpserver, jdk.management: what jdeps finds in the worker jar itself
MODULES=java.base,java.logging,jdk.unsupported,java.management,java.naming,java.net.http,java.xml,java.sql,jdk.crypto.ec,jdk.incubator.vector,jdk.httpserver,jdk.management
"$JDK/bin/jlink" --module-path "$JDK/jmods" --add-modules "$MODULES" --strip-debug --compress=2 \
  --no-header-files --no-man-pages --output "$STAGE/jre" || die "jlink failed"

say "collecting jars"
cp "$WORKER_JAR" "$PROBES_JAR" "$CLI_JAR" "$STAGE/lib/"
for j in "$ROOT"/worker/target/lib/*.jar; do
  case "$(basename "$j")" in
    # native code the GPU host never runs: OpenBLAS (the CPU backend; its goldens are computed here) and
    # DJL's Hugging Face tokenizers (prompts are token ids; run-on-gpu.sh removes the models' tokenizer.json)
    openblas-*-linux-*.jar|tokenizers-*.jar) continue ;;
    # only Linux x86-64 natives travel
    *-linux-arm64.jar|*-linux-ppc64le.jar|*-macosx-*.jar|*-windows-*.jar) continue ;;
  esac
  cp "$j" "$STAGE/lib/"
done

cat > "$STAGE/pipefill" <<'LAUNCHER'
#!/usr/bin/env bash
# pipefill from the GPU-check bundle: the bundled runtime, the bundled jars, nothing installed.
set -euo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$B/jre/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -Xss4m \
  -Dorg.bytedeco.javacpp.cachedir="${PIPEFILL_JAVACPP_CACHE:-$B/.javacpp-cache}" \
  ${PIPEFILL_JVM_OPTS:-} -cp "$B/lib/*" io.pipefill.cli.PipefillCli "$@" \
  2> >(grep -v --line-buffered '^WARNING: Using incubator modules' >&2)
LAUNCHER
chmod +x "$STAGE/pipefill"

# the full class path (OpenBLAS included) computes the CPU goldens here
FULL_CP="$CLI_JAR:$WORKER_JAR:$(ls "$ROOT"/worker/target/lib/*.jar | tr '\n' ':')"
JAVA=("$JDK/bin/java" --add-modules jdk.incubator.vector -Xss4m -cp "$FULL_CP" io.pipefill.cli.PipefillCli)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pipefill-gpu-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

prompt_ids() { # $1 count, $2 vocab: fixed ids, the same for pipefill and transformers
  python3 -c "import random,sys; r=random.Random($PROMPT_SEED); print(','.join(str(r.randrange(4, $2)) for _ in range($1)))"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

golden() { # $1 name, rest: prefill arguments
  local name="$1"; shift
  say "golden $name (cpu)"
  "${JAVA[@]}" prefill "$@" --backend cpu --max-new-tokens "$NEW_TOKENS" --json --quiet \
    --logits-out "$STAGE/goldens/$name.logits.f32" > "$STAGE/goldens/$name.json" 2> "$WORK/$name.err" \
    || { cat "$WORK/$name.err" >&2; die "the CPU run for golden $name failed"; }
}

for preset in tiny small; do
  say "generating the $preset preset (llama, seed 0)"
  "${JAVA[@]}" model create --preset "$preset" --arch llama --seed 0 --out "$WORK/$preset" >&2 || die "model create $preset failed"
done
# the generator must be deterministic, or the GPU host's regenerated models would not match the goldens
"${JAVA[@]}" model create --preset tiny --arch llama --seed 0 --out "$WORK/tiny-again" >/dev/null
[[ "$(sha "$WORK/tiny/model.safetensors")" == "$(sha "$WORK/tiny-again/model.safetensors")" ]] \
  || die "ModelGenerator wrote different bytes for the same seed: goldens would not match a regenerated model"

prompt_ids "$TINY_TOKENS" 512 > "$STAGE/goldens/tiny.prompt"
prompt_ids "$SMALL_TOKENS" 32000 > "$STAGE/goldens/small.prompt"
golden tiny --model "$WORK/tiny" --token-ids-file "$STAGE/goldens/tiny.prompt" --chunk "$TINY_TOKENS"
golden small --model "$WORK/small" --token-ids-file "$STAGE/goldens/small.prompt" --chunk "$SMALL_TOKENS"
golden tiny-random --model tiny --random-weights --weight-seed "$RANDOM_WEIGHT_SEED" \
  --token-ids-file "$STAGE/goldens/tiny.prompt" --chunk "$TINY_TOKENS"

cat > "$STAGE/goldens/manifest.json" <<JSON
{
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet 2>/dev/null || echo -dirty)",
  "new_tokens": $NEW_TOKENS,
  "models": {
    "tiny": {"preset": "tiny", "arch": "llama", "seed": 0, "prompt": "tiny.prompt", "tokens": $TINY_TOKENS,
             "model_sha256": "$(sha "$WORK/tiny/model.safetensors")", "config_sha256": "$(sha "$WORK/tiny/config.json")"},
    "small": {"preset": "small", "arch": "llama", "seed": 0, "prompt": "small.prompt", "tokens": $SMALL_TOKENS,
              "model_sha256": "$(sha "$WORK/small/model.safetensors")", "config_sha256": "$(sha "$WORK/small/config.json")"}
  },
  "goldens": {
    "tiny": {"model": "tiny", "json": "tiny.json", "logits": "tiny.logits.f32"},
    "small": {"model": "small", "json": "small.json", "logits": "small.logits.f32"},
    "tiny-random": {"random_weights": "tiny", "weight_seed": $RANDOM_WEIGHT_SEED, "prompt": "tiny.prompt",
                    "json": "tiny-random.json", "logits": "tiny-random.logits.f32"}
  }
}
JSON

cp "$HERE/run-on-gpu.sh" "$HERE/check.py" "$HERE/attention_probe.py" "$STAGE/"

# cubins of the tensor-core attention kernels for attention_probe.py (the probe_attention_kernels step); the Java
# backend compiles its own with NVRTC on the GPU host
NVCC="$(command -v nvcc || true)"
[[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]] && NVCC=/usr/local/cuda/bin/nvcc
if [[ -n "$NVCC" ]]; then
  say "compiling the attention kernels for the probe ($NVCC)"
  KSRC="$ROOT/worker/src/main/resources/io/pipefill/worker/cuda"
  mkdir -p "$STAGE/kernels"
  "$NVCC" -cubin -arch=sm_90 -O3 -std=c++17 -o "$STAGE/kernels/flash_attention.sm_90.cubin" "$KSRC/flash_attention.cu" \
    || die "nvcc failed on flash_attention.cu"
  "$NVCC" -cubin -arch=sm_90a -O3 -std=c++17 -o "$STAGE/kernels/flash_attention_sm90.sm_90a.cubin" "$KSRC/flash_attention_sm90.cu" \
    || die "nvcc failed on flash_attention_sm90.cu"
else
  say "no nvcc here: the bundle carries no kernel cubins, and the check skips probe_attention_kernels"
fi
[[ -f "$HERE/README.md" ]] && cp "$HERE/README.md" "$STAGE/"
chmod +x "$STAGE/run-on-gpu.sh"

say "checking the bundle's launcher on this machine"
"$STAGE/pipefill" --version >/dev/null 2>&1 || "$STAGE/pipefill" --help >/dev/null 2>&1 \
  || die "the bundled launcher does not start"
"$STAGE/pipefill" model create --preset tiny --seed 0 --out "$WORK/bundle-tiny" >/dev/null \
  || die "model create fails with the bundle's runtime and jars"
[[ "$(sha "$WORK/bundle-tiny/model.safetensors")" == "$(sha "$WORK/tiny/model.safetensors")" ]] \
  || die "the bundle's runtime generates a different tiny model"
# without CUDA here, --backend cuda must fail on the missing libraries and not on a missing class
set +e
out="$("$STAGE/pipefill" prefill --model tiny --random-weights --random-tokens 8 --backend cuda 2>&1)"
set -e
if ! grep -q "the CUDA backend needs libraries" <<<"$out" && ! grep -q '"backend" : "cuda"' <<<"$out"; then
  die "the bundle's CUDA path fails for another reason than missing libraries: $out"
fi

say "packing"
tar -C "$DIST" -czf "$TGZ" pipefill-gpu-check
bytes=$(stat -c %s "$TGZ")
say "$(du -sh "$STAGE/jre" | cut -f1) runtime, $(du -sh "$STAGE/lib" | cut -f1) jars, $(du -sh "$STAGE/goldens" | cut -f1) goldens"
printf '%s %d bytes (%.1f MB)\n' "$TGZ" "$bytes" "$(echo "$bytes / 1000000" | bc -l)"
(( bytes < MAX_BYTES )) || die "the bundle is $bytes bytes, over the 60 MB limit"
