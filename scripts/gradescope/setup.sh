#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image: it unpacks
# taplab (from the zip, in /autograder/source) and installs it with its Debian packages.
set -euo pipefail
mkdir -p /autograder/taplab
tar -xzf /autograder/source/taplab.tar.gz -C /autograder/taplab
cd /autograder/taplab
scripts/install.sh
