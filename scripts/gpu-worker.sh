#!/usr/bin/env bash
# A GPU worker in one command: installs Likeness with the CUDA build of torch, checks the
# base model (manage.py likeness_model check), then starts one `gpu` qcluster per visible
# GPU, each pinned to its GPU with CUDA_VISIBLE_DEVICES. Ctrl-C stops them all.
#
#   scripts/gpu-worker.sh --torch-index URL [--model PATH_OR_ID] [--gpus 0,1] [--skip-install] [--dry-run]
#
#   --torch-index URL  the pip index holding torch's CUDA wheels for this machine's driver
#                      (PyTorch publishes one per CUDA version)
#   --model PATH_OR_ID sets LIKENESS_BASE_MODEL (default: as already set, e.g. in .env)
#   --gpus LIST        GPU indices to run workers on (default: every GPU nvidia-smi lists)
#   --skip-install     use the virtualenv as it is
#   --dry-run          print what would run, run nothing
#
# Set DATABASE_URL, storage and the other settings as on the web machines first (.env works).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${LIKENESS_VENV:-.venv}"
torch_index=""
model=()
gpus=""
install=1
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --torch-index) torch_index="${2:?--torch-index needs a URL}"; shift 2 ;;
    --model) model=(LIKENESS_BASE_MODEL="${2:?--model needs a path or id}"); shift 2 ;;
    --gpus) gpus="${2:?--gpus needs a list such as 0,1}"; shift 2 ;;
    --skip-install) install=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-worker.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$install" -eq 1 ] && [ -z "$torch_index" ]; then
  echo "gpu-worker.sh: --torch-index URL is required to install torch's CUDA build (or --skip-install)" >&2
  exit 2
fi
if [ -z "$gpus" ]; then
  if ! command -v nvidia-smi >/dev/null; then
    echo "gpu-worker.sh: nvidia-smi is not on the PATH: install the NVIDIA driver, or name the GPUs with --gpus" >&2
    exit 2
  fi
  gpus="$(nvidia-smi --query-gpu=index --format=csv,noheader | paste -sd, -)"
  if [ -z "$gpus" ]; then
    echo "gpu-worker.sh: nvidia-smi lists no GPU" >&2
    exit 2
  fi
fi
IFS=, read -r -a gpu_list <<< "$gpus"
# The torch version pyproject.toml pins; the CUDA build of the same version satisfies it.
torch_pin="$(grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')"
PY="$VENV/bin/python"

run() {
  echo "+ $*"
  if [ "$dry_run" -eq 0 ]; then "$@"; fi
}

if [ "$install" -eq 1 ]; then
  [ -x "$PY" ] || run python3 -m venv "$VENV"
  run "$VENV/bin/pip" install -q --upgrade pip
  run "$VENV/bin/pip" install -q "$torch_pin" --index-url "$torch_index"
  run "$VENV/bin/pip" install -q -e .
fi

run env "${model[@]}" CUDA_VISIBLE_DEVICES="${gpu_list[0]}" LIKENESS_DEVICE=cuda "$PY" manage.py likeness_model check

pids=()
trap '[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for gpu in "${gpu_list[@]}"; do
  worker=(env "${model[@]}" CUDA_VISIBLE_DEVICES="$gpu" Q_CLUSTER_NAME=gpu LIKENESS_DEVICE=cuda "$PY" manage.py qcluster)
  echo "+ ${worker[*]} &"
  if [ "$dry_run" -eq 0 ]; then
    "${worker[@]}" & pids+=($!)
  fi
done
if [ "$dry_run" -eq 0 ]; then
  wait -n
fi
