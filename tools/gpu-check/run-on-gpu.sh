#!/usr/bin/env bash
# pipefill GPU check, on the GPU host, from the unpacked bundle (dist/pipefill-gpu-check.tgz):
#   tar -xzf pipefill-gpu-check.tgz -C /tmp && /tmp/pipefill-gpu-check/run-on-gpu.sh
# Needs: one NVIDIA GPU with its driver, Python 3 with PyTorch (CUDA 13 build, whose nvidia-* pip packages hold
# the CUDA/cuDNN/NCCL libraries pipefill loads), numpy and transformers. No Java (the bundle carries a runtime),
# no network. Prints one JSON report on stdout (progress on stderr). check.py keeps $OUT/report.json (the work
# directory's without $OUT) up to date as each step starts and ends, atomically, with progress.log beside it, so
# a run cut off from outside still returns every finished step and names the one that was running.
# Ends within ~8 minutes whatever hangs: check.py cuts every step to a 450 s budget, and this script kills it
# at PIPEFILL_CHECK_HARD_LIMIT_S (470 s) as a last resort, still printing a report.
set -u
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HARD_LIMIT="${PIPEFILL_CHECK_HARD_LIMIT_S:-470}"
DEADLINE="${PIPEFILL_CHECK_DEADLINE_S:-450}"

say() { printf 'run-on-gpu: %s\n' "$*" >&2; }

fail_report() { # $1 message: the one-line JSON report of a check that could not run at all
  local msg="${1//\"/\'}"
  local json="{\"check\": \"pipefill GPU check (tools/gpu-check)\", \"fatal\": \"$msg\"}"
  printf '%s\n' "$json"
  if [[ -n "${OUT:-}" ]]; then
    mkdir -p "$OUT" && printf '%s\n' "$json" > "$OUT/.report.json.tmp" && mv -f "$OUT/.report.json.tmp" "$OUT/report.json"
  fi
  exit 1
}

PY="${PIPEFILL_PYTHON:-}"
if [[ -z "$PY" ]]; then
  for cand in python3 python /opt/conda/bin/python /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import torch' >/dev/null 2>&1; then PY="$(command -v "$cand")"; break; fi
  done
fi
[[ -n "$PY" ]] || fail_report "no Python with torch found (tried python3, python, /opt/conda/bin/python; set PIPEFILL_PYTHON)"
[[ -x "$B/jre/bin/java" ]] || fail_report "$B/jre/bin/java is missing: unpack the whole bundle (build-bundle.sh)"
[[ -f "$B/goldens/manifest.json" ]] || fail_report "$B/goldens/manifest.json is missing: unpack the whole bundle"
command -v timeout >/dev/null 2>&1 || fail_report "coreutils timeout is missing"

say "python $PY; bundle $B; budget ${DEADLINE}s (hard limit ${HARD_LIMIT}s)"
export PIPEFILL_CHECK_WORK="${PIPEFILL_CHECK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/pipefill-gpu-check-work.XXXXXX")}"
REPORT_DIR="${OUT:-$PIPEFILL_CHECK_WORK}"
timeout -k 10 "$HARD_LIMIT" "$PY" "$B/check.py" run --bundle "$B" --deadline-s "$DEADLINE" --out "$REPORT_DIR"
rc=$?
if (( rc == 124 || rc == 137 )); then
  if [[ -f "$REPORT_DIR/report.json" ]]; then
    # the report as check.py last wrote it: the finished steps, and running_step naming the one cut off
    "$PY" - "$REPORT_DIR" "$HARD_LIMIT" <<'PY'
import json, os, sys, tempfile
d, limit = sys.argv[1], sys.argv[2]
r = json.load(open(os.path.join(d, "report.json")))
running = r.get("running_step", {}).get("name")
r["fatal"] = "check.py was killed at the hard limit of %ss%s; the steps listed finished before" % (
    limit, " while step %s was running" % running if running else "")
text = json.dumps(r, indent=2)
print(text)
fd, tmp = tempfile.mkstemp(prefix=".report.json.", suffix=".tmp", dir=d)
with os.fdopen(fd, "w") as f:
    f.write(text + "\n")
os.replace(tmp, os.path.join(d, "report.json"))
PY
    exit 1
  fi
  fail_report "check.py was killed at the hard limit of ${HARD_LIMIT}s (its own deadline did not hold); see stderr for the last step"
fi
rm -rf "$PIPEFILL_CHECK_WORK/models" 2>/dev/null || true
exit "$rc"
