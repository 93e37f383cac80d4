#!/usr/bin/env bash
# Make build/gradescope-NN.zip, the Gradescope autograder of exercise NN: setup.sh,
# run_autograder, the exercise number and taplab's committed source (git archive HEAD).
#   scripts/gradescope/build.sh 02
set -euo pipefail
cd "$(dirname "$0")/../.."

exercise=${1:-}
if [[ ! "$exercise" =~ ^[0-9]{2}$ ]] || ! compgen -G "exercises/$exercise-*/check.py" >/dev/null; then
  echo "usage: scripts/gradescope/build.sh NN, where exercises/NN-*/ is an exercise" >&2
  exit 2
fi
out="build/gradescope-$exercise"
rm -rf "$out" "$out.zip"
mkdir -p "$out"
git archive --format=tar.gz -o "$out/taplab.tar.gz" HEAD
cp scripts/gradescope/setup.sh scripts/gradescope/run_autograder "$out/"
echo "$exercise" >"$out/exercise"
(cd "$out" && zip -q "../gradescope-$exercise.zip" setup.sh run_autograder exercise taplab.tar.gz)
echo "$out.zip: upload it as the assignment's autograder (scripts/gradescope/README.md)"
