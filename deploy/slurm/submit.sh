#!/usr/bin/env bash
# Submits N shards as one SLURM job array and a leaderboard job that runs after all of
# them succeed. Usage: TWEEDIE_CONFIG=... TWEEDIE_OUT=s3://... deploy/slurm/submit.sh N [sbatch options]
# Extra options (for example --partition=gpu --gres=gpu:1) go to the array job only.
set -euo pipefail

count="${1:?usage: submit.sh SHARD_COUNT [sbatch options for the shard array]}"
shift
if ! [[ "$count" =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: SHARD_COUNT must be an integer >= 1, got '$count'" >&2
  exit 2
fi
: "${TWEEDIE_CONFIG:?set TWEEDIE_CONFIG to the run config}"
: "${TWEEDIE_OUT:?set TWEEDIE_OUT to the shared s3://bucket/prefix}"
here="$(cd "$(dirname "$0")" && pwd)"

array_job=$(sbatch --parsable --export=ALL --array="0-$((count - 1))" "$@" "$here/tweedie-array.sbatch")
array_job="${array_job%%;*}"
board_job=$(sbatch --parsable --export=ALL --dependency="afterok:${array_job}" --kill-on-invalid-dep=yes \
  "$here/tweedie-leaderboard.sbatch")
echo "shard array ${array_job} (${count} tasks), leaderboard ${board_job} after it"
