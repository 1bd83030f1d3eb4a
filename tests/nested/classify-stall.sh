#!/usr/bin/env bash
# Tells a stall of the test bed from a failure of ember, from the saved
# console of one nested run (e.g. build/nested/<run>.out). Prints
# "stall: <reason>" and exits 0, or prints "failure" and exits 1; 2 on a
# usage error. The rules: nested_classify_stall in lib.sh.
#
# usage: classify-stall.sh [-v] [--no-nmi] [--vmm NAME] CONSOLE
#   -v        say on stderr why a run is a failure
#   --no-nmi  the guest's backtrace requests are IPIs, not NMIs (arm64, riscv64)
#   --vmm     the VMM's process name in L1 (default ember)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"
nested_classify_stall "$@"
