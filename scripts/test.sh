#!/usr/bin/env bash
# The test command: installs test dependencies, builds, and runs every test project.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup-test-deps.sh
dotnet build Compiler.sln -c Release --nologo -v quiet -clp:ErrorsOnly
dotnet test Compiler.sln -c Release --no-build --nologo -v quiet "$@"
