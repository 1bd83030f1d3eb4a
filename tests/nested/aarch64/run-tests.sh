#!/usr/bin/env bash
# The aarch64 nested test suite: boots an arm64 L1 Linux under QEMU TCG with
# virtualization extensions (its KVM is real, in nVHE mode) and, inside it,
# boots an arm64 L2 Linux with ember. The GIC version is a property of the L1
# machine, so each version gets its own L1 boot. Prints one line per run:
#   PASS: nested/<name> (<secs>s in L1, cpus=<n>)
#   FAIL: nested/<name> (<reason>)
# A run passes when ember exits 0 and the guest printed L2-CPUS=2,
# L2-DISK-OK, L2-RNG-OK and L2-MARKER-OK, and no L2-FAIL (see
# mk-l2-initramfs.sh); in the API run, every API request must succeed too.
# The GICv3 API and config-file runs also carry the MMDS checks (x86_64's
# mmds-v2 and mmds-v1, on one GIC as the issue asks; v3, where both of those
# runs are): their VM has a virtio-net on L1's tap0 with ember's MMDS on it
# (V2 set up and filled through the API; V1 from the config file and
# --metadata), the guest pings L1 and reads the MMDS (plain, JSON, tokens, 401s),
# and sees the PATCH /mmds that L1 sends while it runs (nested_mmds_checks).
# The snapshot runs pause the guest, snapshot it, SIGKILL ember and restore it
# in a new one; the guest must go on (L2-SNAP-READY, then L2-RESTORED with the
# line sent after the restore) and pass its device checks restored. Their VM
# also has a vsock: a guest connection left open across the snapshot must be
# reset after the restore (L2-HOLD-RESET), and new connections must work both
# ways: the guest's to a host echo (L2-CLIENT-OK, L1-ECHO-DONE), the host's to
# the guest's listener (L1-CLIENT-OK, L2-ECHO-DONE), 1 MiB each, every byte
# checked.
#
# usage: run-tests.sh EMBER_AARCH64_BIN       (static: make ARCH=aarch64)
# environment:
#   NESTED_CACHE          kernel/busybox cache (default <repo>/build/nested/cache-aarch64)
#   NESTED_RUN_TIMEOUT    seconds per ember run inside L1 (default 90)
#   NESTED_START_TIMEOUT  seconds for L1 to reach its /init (default 60)
#   NESTED_ONLY           space-separated run names to do (default: all);
#                         mmds-v1 and mmds-v2 (x86_64's) name the GICv3
#                         config-file and API runs, which carry those checks
#   VERBOSE=1             stream the L1 console while it runs
# Exit status: 0 only if every run passed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/build/nested/aarch64
cache=${NESTED_CACHE:-$repo/build/nested/cache-aarch64}
export NESTED_CACHE=$cache
run_timeout=${NESTED_RUN_TIMEOUT:-90}
# L1 silent this long means L1 is stuck, not a run: the /run.sh watchdog ends any run sooner.
freeze_secs=$((run_timeout + 30))
start_timeout=${NESTED_START_TIMEOUT:-60}
tries=3

[ $# -eq 1 ] || {
	echo "usage: $0 EMBER_AARCH64_BIN" >&2
	exit 2
}
ember=$1
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

# The L2 guest: the same VM three ways (with an MMDS on a virtio-net in the
# API and config-file runs), then snapshotted and restored on each GIC. Its
# console is the 16550 (ttyS0).
l2_args="console=ttyS0 earlycon panic=1"
l2_cpus=2
# name, the L1's GIC version, then how ember is started (see run.sh below).
tests=(
	"gicv2-2cpu 2 run --gic v2 --kernel /payload/Image --initrd /payload/l2-test.cpio.gz --vcpus $l2_cpus --memory 256 --disk /payload/disk.img --rng --boot-args '$l2_args'"
	"gicv3-2cpu-api 3 run_api --gic v3 --api-sock /tmp/ember.sock"
	# An API socket for the PATCH /mmds; /tmp/meta.json: nested_l1_mmds's $mmds_data.
	"gicv3-2cpu-config 3 run_mmds --gic v3 --api-sock /tmp/ember.sock --config-file /payload/vm.json --metadata /tmp/meta.json"
	"gicv2-snapshot 2 run_snapshot --gic v2 --kernel /payload/Image --initrd /payload/l2-test.cpio.gz --vcpus $l2_cpus --memory 256 --disk /payload/disk.img --rng --vsock 3,/tmp/v.sock --boot-args '$l2_args ember.snapshot=1 ember.vsock=1'"
	"gicv3-snapshot 3 run_snapshot --gic v3 --kernel /payload/Image --initrd /payload/l2-test.cpio.gz --vcpus $l2_cpus --memory 256 --disk /payload/disk.img --rng --vsock 3,/tmp/v.sock --boot-args '$l2_args ember.snapshot=1 ember.vsock=1'"
)
# x86_64's names for its MMDS runs pick the runs that carry those checks here.
if [ -n "${NESTED_ONLY:-}" ]; then
	only=
	for w in $NESTED_ONLY; do
		case $w in mmds-v1) w=gicv3-2cpu-config ;; mmds-v2) w=gicv3-2cpu-api ;; esac
		only="$only $w"
	done
	NESTED_ONLY=$only
fi
nested_select tests
mkdir -p "$out"
log=$out/run-tests.log
: >"$log"
echo "nested: full log in $log"
[ ${#tests[@]} -gt 0 ] || nested_setup_fail "NESTED_ONLY='${NESTED_ONLY:-}' names no run"

# --- setup -------------------------------------------------------------------
command -v qemu-system-aarch64 >/dev/null ||
	nested_setup_fail "no qemu-system-aarch64 on this host (apt-get install qemu-system-arm)"
command -v aarch64-linux-gnu-gcc >/dev/null ||
	nested_setup_fail "no aarch64-linux-gnu-gcc on this host (apt-get install gcc-aarch64-linux-gnu)"
[ -f "$ember" ] || nested_setup_fail "no ember binary at $ember (make ARCH=aarch64)"
# An arm64 ELF, or a script stand-in (L1 runs it with busybox sh).
if [ "$(head -c 2 "$ember")" != '#!' ] &&
	[ "$(LC_ALL=C readelf -h "$ember" 2>/dev/null | sed -n 's/^ *Machine: *//p')" != AArch64 ]; then
	nested_setup_fail "$ember is neither an arm64 ELF executable nor a script"
fi
if ! "$here/l1-kernel.sh" "$cache" >>"$log" 2>&1; then
	nested_setup_fail "could not obtain the arm64 kernel: $(tail -n 1 "$log" | sed 's/^l1-kernel: //'); see $log"
fi

payload=$out/payload-test
rm -rf "$payload"
mkdir -p "$payload"
ln -s "$cache/Image" "$payload/Image"
# Both ends of the vsock checks: L1's (/payload/vsock_tool) and the guest's.
aarch64-linux-gnu-gcc -static -O2 -o "$payload/vsock_tool" "$here/../tools/vsock_tool.c" >>"$log" 2>&1 ||
	nested_setup_fail "could not build vsock_tool (see $log)"
# The guest's HTTP client for the MMDS checks.
aarch64-linux-gnu-gcc -static -O2 -o "$out/mmds_client" "$here/../tools/mmds_client.c" >>"$log" 2>&1 ||
	nested_setup_fail "could not build mmds_client (see $log)"
"$here/mk-l2-initramfs.sh" "$payload/l2-test.cpio.gz" "$payload/disk.img" "$payload/vsock_tool" \
	"$out/mmds_client" >>"$log" 2>&1 || nested_setup_fail "could not build the L2 initramfs (see $log)"
# The config-file run's VM, in Firecracker's --config-file shape: the API run's, with
# MMDS V1 where that one has V2.
cat >"$payload/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "/payload/Image", "initrd_path": "/payload/l2-test.cpio.gz",
                  "boot_args": "$l2_args ember.mmds=V1"},
  "machine-config": {"vcpu_count": $l2_cpus, "mem_size_mib": 256},
  "drives": [{"drive_id": "rootfs", "path_on_host": "/payload/disk.img", "is_root_device": false,
              "is_read_only": true}],
  "entropy": {},
  "network-interfaces": [{"iface_id": "eth0", "guest_mac": "02:00:00:00:00:02", "host_dev_name": "tap0"}],
  "mmds-config": {"network_interfaces": ["eth0"], "version": "V1"}
}
EOF

# gen_script GIC NAME...: L1's /run.sh for those runs (on that GIC version).
# Each run is delimited by NESTED-BEGIN and NESTED-RESULT; ember's stderr (and
# the API client's replies) are kept apart and printed after the run, prefixed.
# shellcheck disable=SC2317 # (called through nested_runs)
gen_script() {
	local gic=$1 name g how args
	shift
	cat <<EOS
#!/bin/sh
# Generated by tests/nested/aarch64/run-tests.sh (GIC v$gic).
EOS
	nested_l1_runner "$run_timeout"
	nested_l1_mmds
	cat <<EOS
# api METHOD PATH [BODY]: one request, as a Firecracker user would send it;
# on a failure ember is stopped.
api() {
	[ -z "\$apifail" ] || return 0
	echo "> \$*" >>/tmp/\$name.api
	/bin/api_client /tmp/ember.sock "\$@" >>/tmp/\$name.api 2>&1 && return 0
	apifail="\$1 \$2"
	echo "NESTED-APIFAIL \$name \$apifail"
	kill \$pid 2>/dev/null
}
# run_api NAME ARGS...: ember waits on its API socket; configure it (with a virtio-net
# on tap0 and ember's MMDS V2 on it, the store filled by PUT /mmds) and start it; then
# PATCH the store once the guest asks (mmds_patch).
run_api() {
	rm -f /tmp/ember.sock
	apifail=
	start_fifo "\$@"
	api PUT /machine-config '{"vcpu_count":$l2_cpus,"mem_size_mib":256}'
	api PUT /boot-source '{"kernel_image_path":"/payload/Image","initrd_path":"/payload/l2-test.cpio.gz","boot_args":"$l2_args ember.mmds=V2"}'
	api PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"/payload/disk.img","is_root_device":false,"is_read_only":true}'
	api PUT /entropy '{}'
	api PUT /network-interfaces/eth0 '{"iface_id":"eth0","guest_mac":"02:00:00:00:00:02","host_dev_name":"tap0"}'
	api PUT /mmds/config '{"version":"V2","network_interfaces":["eth0"]}'
	api PUT /mmds "\$mmds_data"
	api PUT /actions '{"action_type":"InstanceStart"}'
	mmds_patch /bin/api_client /tmp/ember.sock
	finish
}
# run_mmds NAME ARGS...: ember started with ARGS (an MMDS in them, its API on
# /tmp/ember.sock); PATCH the store once the guest asks (mmds_patch).
run_mmds() {
	rm -f /tmp/ember.sock
	start_fifo "\$@"
	mmds_patch /bin/api_client /tmp/ember.sock
	finish
}
# snapapi SOCKET METHOD PATH BODY: one request of run_snapshot; a failure is
# recorded and later requests are skipped.
snapapi() {
	[ -z "\$apifail" ] || return 0
	echo "> \$2 \$3 \$4" >>/tmp/\$name.api
	/bin/api_client "\$@" >>/tmp/\$name.api 2>&1 && return 0
	apifail="\$2 \$3"
	echo "NESTED-APIFAIL \$name \$apifail"
}
# run_snapshot NAME ARGS...: boot with ARGS (a vsock on /tmp/v.sock among
# them) and an API socket; once the guest says L2-SNAP-READY, pause it,
# snapshot it and SIGKILL ember; restore the snapshot in a new ember and send
# the guest the line it waits for. The guest then checks that it went on
# (uptime, a process), its vsock and its other devices. The host ends of the
# vsock: a listener on port 5002 for the connection the restore resets, an
# echo on port 5000 and, after the restore, a client to the guest's port 1234
# (their lines go to files: on the console they would cut into the guest's).
# One watchdog covers both embers.
run_snapshot() {
	name=\$1
	shift
	echo "NESTED-BEGIN \$name"
	t0=\$(now)
	apifail=
	rm -f /tmp/\$name.in /tmp/a1.sock /tmp/a2.sock /tmp/snap.state /tmp/snap.mem /tmp/v.sock*
	/payload/vsock_tool echo-uds /tmp/v.sock_5002 >/tmp/vsock-hold.out 2>&1 &
	holder=\$!
	/payload/vsock_tool echo-uds /tmp/v.sock_5000 >/tmp/vsock-echo.out 2>&1 &
	echoer=\$!
	mkfifo /tmp/\$name.in
	exec 3<>/tmp/\$name.in
	/bin/ember --api-sock /tmp/a1.sock "\$@" <&3 >/tmp/\$name.out 2>/tmp/\$name.err &
	pid=\$!
	watchdog
	while kill -0 \$pid 2>/dev/null && ! grep -q L2-SNAP-READY /tmp/\$name.out; do
		sleep 0.5
	done
	s0=\$(now)
	snapapi /tmp/a1.sock PATCH /vm '{"state":"Paused"}'
	snapapi /tmp/a1.sock PUT /snapshot/create \\
		'{"snapshot_type":"Full","snapshot_path":"/tmp/snap.state","mem_file_path":"/tmp/snap.mem"}'
	s1=\$(now)
	kill -9 \$pid 2>/dev/null
	wait \$pid
	[ -n "\$apifail" ] || ls -l /tmp/snap.state /tmp/snap.mem >>/tmp/\$name.api 2>&1
	/bin/ember --api-sock /tmp/a2.sock <&3 >>/tmp/\$name.out 2>>/tmp/\$name.err &
	pid=\$!
	echo \$pid >/tmp/\$name.pid
	l0=\$(now)
	snapapi /tmp/a2.sock PUT /snapshot/load \\
		'{"snapshot_path":"/tmp/snap.state","mem_backend":{"backend_type":"File","backend_path":"/tmp/snap.mem"},"resume_vm":true}'
	l1=\$(now)
	# On a failure the refusal stays the last line, which the run's FAIL line quotes.
	if [ -z "\$apifail" ]; then
		echo "snapshot \$(awk "BEGIN { print \$s1 - \$s0 }") s, load \$(awk "BEGIN { print \$l1 - \$l0 }") s (L1 time)" >>/tmp/\$name.api
	else
		kill \$pid 2>/dev/null
	fi
	echo go >&3
	# The guest connects to the host's echo itself; this waits for the guest's listener,
	# and starts only once the guest has handled the transport-reset event (L2-HOLD-RESET):
	# a connection it accepts before that is reset with the old ones (seen once, in a
	# fresh-clone CI: "echo read: Transport endpoint is not connected"; riscv64's run waits
	# the same way, tests/nested/riscv64/README.md).
	i=0
	while kill -0 \$pid 2>/dev/null && ! grep -q L2-HOLD-RESET /tmp/\$name.out && [ \$i -lt 300 ]; do
		sleep 0.2
		i=\$((i + 1))
	done
	/payload/vsock_tool client-uds /tmp/v.sock 1234 1048576 >/tmp/vsock-client.out 2>&1 &
	client=\$!
	wait \$pid
	rc=\$?
	t1=\$(now)
	kill \$wd 2>/dev/null
	exec 3>&-
	i=0
	while kill -0 \$client 2>/dev/null && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done
	kill \$client \$echoer \$holder 2>/dev/null
	to=0
	[ ! -e /tmp/\$name.timedout ] || to=1
	cat /tmp/\$name.out
	echo
	cat /tmp/vsock-echo.out /tmp/vsock-client.out
	sed 's/^L1-ECHO-/L1-HOLD-/' /tmp/vsock-hold.out
	sed "s/^/NESTED-STDERR \$name: /" /tmp/\$name.err
	sed "s/^/NESTED-API \$name: /" /tmp/\$name.api
	echo "NESTED-RESULT \$name rc=\$rc secs=\$(awk "BEGIN { printf \\"%.1f\\", \$t1 - \$t0 }") timeout=\$to"
}
EOS
	for t in "${tests[@]}"; do
		read -r name g how args <<<"$t"
		case " $* " in *" $name "*) ;; *) continue ;; esac
		[ "$g" = "$gic" ] && echo "$how $name $args"
	done
	echo 'echo "NESTED-DONE"'
}

# --- boot each L1, retrying only one that never reached its /init ------------
# boot_l1 GIC INITRD NRUNS: the last console in $out/l1-gicv<GIC>.log (see
# nested_boot_l1). Returns 1 if L1 never started.
# shellcheck disable=SC2317 # (called through nested_runs)
boot_l1() {
	local total=$((start_timeout + $3 * (run_timeout + 10) + 30))
	nested_boot_l1 "GIC v$1" "$out/l1-gicv$1.log" "$total" "$here/run-l1.sh" "$2" "$total" "$1"
}

l1_pids=
# Interrupted: take QEMU (run-l1.sh execs timeout, which passes it on) along.
# shellcheck disable=SC2317,SC2086 # (called by the trap; a list of pids)
cleanup() { [ -z "$l1_pids" ] || kill $l1_pids 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# boot_gic NAME...: an L1 with GIC v$gic that does these runs (nested_runs' BOOT).
# shellcheck disable=SC2317 # (called by nested_runs)
boot_gic() {
	local script=$out/l1-gicv$gic.sh initrd=$out/l1-gicv$gic.cpio
	gen_script "$gic" "$@" >"$script"
	# Uncompressed: gzip costs more time than it saves in L1's boot.
	"$here/mk-l1-initramfs.sh" "$initrd" "$ember" "$script" "$payload" >>"$log" 2>&1 ||
		nested_setup_fail "could not build the L1 initramfs (see $log)"
	not_started=
	boot_l1 "$gic" "$initrd" "$#" || not_started="L1 with GIC v$gic did not start in $tries tries"
	rm -f "$initrd"
	cur=$out/l1-gicv$gic.log
	kvm_missing=
	grep -q 'L1-KVM-MISSING' "$cur" && kvm_missing=" (L1 had no /dev/kvm)"
	return 0
}
# judge_gic NAME: the run's line (nested_runs' JUDGE).
# shellcheck disable=SC2317 # (called by nested_runs)
judge_gic() {
	local snap=() judge_checks=
	case $1 in
	*-snapshot)
		snap=(L2-SNAP-READY 'L2-RESTORED .*got=go' L2-HOLD-RESET L2-CLIENT-OK 'L2-REFUSED rc=-1'
			'L1-ECHO-DONE bytes=1048576' 'L1-CLIENT-OK OK ' 'L2-ECHO-DONE bytes=1048576')
		;;
	gicv3-2cpu-api) judge_checks="nested_mmds_checks V2" ;;
	gicv3-2cpu-config) judge_checks="nested_mmds_checks V1" ;;
	esac
	nested_judge "$1" "$cur" "$not_started" "$kvm_missing" "$l2_cpus" ${snap[@]+"${snap[@]}"} \
		L2-DISK-OK L2-RNG-OK L2-MARKER-OK
}

# The L2 is arm64: its backtrace request is an IPI, not an NMI (see nested_classify_stall).
stall_opts=--no-nmi
status=0
for gic in 2 3; do
	names=()
	for t in "${tests[@]}"; do
		read -r name g _ <<<"$t"
		[ "$g" != "$gic" ] || names+=("$name")
	done
	[ ${#names[@]} -gt 0 ] || continue
	# --- this L1's results (a run that stalled: once more, in a new L1) -------
	nested_runs boot_gic judge_gic "${names[@]}" || status=1
done
exit $status
