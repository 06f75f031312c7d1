#!/usr/bin/env bash
# The benchmark on a GPU machine, as one prepared command (issue 9 part 2). The device machine is
# bare: Python and PyTorch, no Node, no network; gpu-run/ (node scripts/gpu-bundle.mjs, git-ignored)
# carries Node, the bundled CLI, Dawn's dawn.node, tfjs's wasm binaries, the peer and a Vulkan loader.
#
#   here:   npm run build && node scripts/gpu-bundle.mjs
#   device: run(command="bash scripts/gpu-run.sh", carry=["gpu-run"], timeout_s=570)
#   dry run on this machine (SwiftShader, tiny sizes): GPU_RUN_SOFTWARE=1 bash scripts/gpu-run.sh --quick
#
# Writes into $OUT (the device tool brings it back; ./gpu-out elsewhere): run.log (everything),
# env.txt (driver, Vulkan, adapter diagnostics), conformance-webgpu.txt, bench.json (the CLI's JSON
# line: webgpu and wasm, the 2D workload and MNIST, with the adapter that ran), peer-toy.json and
# peer-mnist.json (the PyTorch peer on the machine's CPU, 1 thread). Each step has its own timeout and
# a failed step does not stop the others; the exit status is the conformance run's.
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
PYTHON=${PYTHON:-python3} # the device's python3 holds PyTorch; here: PYTHON=/usr/bin/python3
PEER_REPS=${PEER_REPS:-3}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
G=$PWD/gpu-run
W=/tmp/piflow-gpu
exec > >(tee -a "$OUT/run.log") 2>&1
say() { echo "== $(date -u +%H:%M:%S) $*"; }
[ -f "$G/node.xz" ] || { echo "gpu-run/ is missing: node scripts/gpu-bundle.mjs first (and carry it)"; exit 2; }

say "unpacking"
rm -rf "$W" && mkdir -p "$W" && cp -r "$G/node_modules" "$W/"
unxz() { "$PYTHON" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
unxz "$G/node.xz" "$W/node" && chmod +x "$W/node"
unxz "$G/piflow.mjs.xz" "$W/piflow.mjs"
unxz "$G/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$W/node_modules/webgpu/dist/linux-x64/dawn.node"
NODE="$W/node"
"$NODE" --version || { echo "the carried Node does not run here"; exit 2; }

if [ "${GPU_RUN_SOFTWARE:-0}" = 1 ]; then
  say "software Vulkan (SwiftShader from Debian's chromium): a dry run, no GPU figures"
  export LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
else
  if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
    say "no Vulkan loader in the image: unpacking gpu-run/gl"
    for f in "$G"/gl/*.deb; do dpkg -x "$f" / ; done
    ldconfig
  fi
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; break; fi
  done
fi
{
  echo "uname: $(uname -a)"
  nvidia-smi 2>&1 | head -15
  echo "vulkan loader: $(ldconfig -p | grep libvulkan || echo none)"
  echo "ICD: ${VK_ICD_FILENAMES:-none}"; [ -n "${VK_ICD_FILENAMES:-}" ] && cat "$VK_ICD_FILENAMES"
  ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d 2>&1
  echo "cpus: $(nproc)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

CLI=("$NODE" "$W/piflow.mjs")
say "golden cases on webgpu"
timeout 180 "${CLI[@]}" conformance tests/fixtures/cases.json --backend webgpu 2>&1 | tee "$OUT/conformance-webgpu.txt"
status=${PIPESTATUS[0]}

say "bench: webgpu and wasm, 2D and MNIST"
if [ $QUICK = 1 ]; then args=(--quick --backends webgpu,wasm --dataset toy,mnist); else args=(--backends webgpu,wasm --repeats 3 --dataset toy,mnist); fi
timeout 330 "${CLI[@]}" bench "${args[@]}" > "$OUT/bench.txt" 2>&1
echo "bench exit $?"; cat "$OUT/bench.txt"
tail -n 1 "$OUT/bench.txt" > "$OUT/bench.json"

if [ -f "$G/peer/bench.py" ] && { [ $QUICK = 0 ] || [ -n "${PEER_ALWAYS:-}" ]; }; then
  say "the PyTorch peer on this machine's CPU, 1 thread"
  timeout 150 "$PYTHON" "$G/peer/bench.py" --threads 1 --reps "$PEER_REPS" > "$OUT/peer-toy.txt" 2>&1; echo "peer exit $?"; cat "$OUT/peer-toy.txt"
  PIFLOW_PEER_MNIST="$G/peer/mnist" timeout 150 "$PYTHON" scripts/peer-mnist-bench.py --threads 1 --reps "$PEER_REPS" > "$OUT/peer-mnist.txt" 2>&1; echo "peer mnist exit $?"; cat "$OUT/peer-mnist.txt"
fi
say "done (conformance exit $status)"
exit "$status"
