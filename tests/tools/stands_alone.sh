#!/usr/bin/env bash
# stands_alone.sh SOURCE_DIR: the project stands alone. Fails, listing the lines, if a file of the
# project names a directory that a clone does not have: the development machine's work directory
# (slash, "work", slash) or the steering repository beside a clone (dot-dot, slash, "shared"). In a git
# checkout it reads the tracked files (git grep); elsewhere, a copy of the sources, every file under
# SOURCE_DIR but build directories. The patterns are spelled in pieces so that this file passes.
set -uo pipefail
src=${1:?usage: stands_alone.sh SOURCE_DIR}
work="/wor""k/"
shared="\.\./sha""red"
pattern="$work|$shared"

top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null) || top=""
if [[ -n "$top" && "$(realpath "$top")" == "$(realpath "$src")" ]]; then
  how="git grep over the tracked files"
  hits=$(git -C "$src" grep -nIE "$pattern")
else
  how="grep over $src"
  hits=$(grep -rnIE "$pattern" "$src" --exclude-dir=.git --exclude-dir='build*')
fi
if [[ -n "$hits" ]]; then
  echo "FAIL: files name paths outside the project ($how):"
  echo "$hits"
  echo "Name files by their path in the repository, relative to it, instead."
  exit 1
fi
echo "PASS: no file names a path outside the project ($how)"
