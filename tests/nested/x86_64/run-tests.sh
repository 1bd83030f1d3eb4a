#!/usr/bin/env bash
# The nested test suite: boots one L1 Linux under QEMU TCG (it has a real,
# nested KVM) and, inside it, boots the L2 guest kernels with ember, one run
# after another. Prints one line per run:
#   PASS: nested/<name> (<secs>s in L1, cpus=<n>)
#   FAIL: nested/<name> (<reason>)
# A run passes when ember exits 0 and the guest printed L2-MARKER-OK and
# L2-CPUS=<the --vcpus given>; with --rng, /dev/hwrng must give 64 bytes
# from the virtio_rng driver; with --net, the guest must ping L1's tap0
# (169.254.100.1, a link-local subnet inside L1) 3 times out of 3; with --disk,
# vda must read, write and flush and the read-only vdb refuse a write.
# vmlinux-poweroff ends its guest with poweroff -f, not a reset: ember must
# exit 0, and the guest must have found its virtio-rng through ACPI.
# debian-stock-2cpu boots L1's own Debian cloud kernel, unmodified, as the L2:
# it loads virtio_mmio and virtio_blk from the initramfs, must see 2 CPUs and
# read vda, and powers off. Both need ACPI from ember (the stock kernel has no
# MP-table parser and no virtio_mmio.device= parser; a guest without ACPI
# cannot power off): without it they hang until NESTED_POWEROFF_TIMEOUT.
#
# usage: run-tests.sh EMBER_STATIC_BIN
# environment:
#   NESTED_CACHE          L1 kernel cache (default <repo>/build/nested/cache)
#   NESTED_RUN_TIMEOUT    seconds per ember run inside L1 (default 90)
#   NESTED_POWEROFF_TIMEOUT  the same for the runs that end in a power-off
#                         (default 60)
#   NESTED_START_TIMEOUT  seconds for L1 to reach its /init (default 60)
#   NESTED_EXTRA_PAYLOAD  directory whose contents also go into L1's /payload
#   NESTED_ONLY           space-separated run names to do (default: all)
#   VERBOSE=1             stream the L1 console while it runs
# Exit status: 0 if every run passed, 1 otherwise.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/build/nested
cache=${NESTED_CACHE:-$repo/build/nested/cache}
export NESTED_CACHE=$cache
guest=${NESTED_GUEST_DIR:-$repo/../shared/guest/x86_64}
run_timeout=${NESTED_RUN_TIMEOUT:-90}
poweroff_timeout=${NESTED_POWEROFF_TIMEOUT:-60}
start_timeout=${NESTED_START_TIMEOUT:-60}
tries=3

[ $# -eq 1 ] || {
	echo "usage: $0 EMBER_STATIC_BIN" >&2
	exit 2
}
ember=$1

# name, then ember's arguments; the L2 must report as many CPUs as --vcpus.
tests=(
	"vmlinux-1cpu --kernel /payload/vmlinux --initrd /payload/l2-test.cpio.gz --vcpus 1 --memory 256"
	"vmlinux-2cpu --kernel /payload/vmlinux --initrd /payload/l2-test.cpio.gz --vcpus 2 --memory 256"
	"bzimage-1cpu --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 1 --memory 256"
	"bzimage-2cpu --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 2 --memory 256"
	"vmlinux-linuxboot-2cpu --kernel /payload/vmlinux --initrd /payload/l2-test.cpio.gz --boot-protocol linux --vcpus 2 --memory 256"
	"virtio-rng-2cpu --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 2 --memory 256 --rng"
	"virtio-blk-2disks --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 1 --memory 256 --disk /payload/disk0.img,id=ember-nested --disk /payload/disk1.img,ro"
	"ext4-sigkill --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 1 --memory 256 --disk /payload/ext4.img --boot-args 'console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux ember.ext4=write'"
	"vsock-echo --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 2 --memory 256 --vsock 3,/tmp/v.sock --boot-args 'console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux ember.vsock=1'"
	# Not ember's arguments: run_mmds makes a config file with an MMDS on the TAP's eth0
	# (V1, then V2 in a second run) and PATCHes the store while the guest waits. They also
	# ping L1 over the TAP, as a run of its own once did; snapshot-restore keeps --net's.
	"mmds-v1 V1 --vcpus 1"
	"mmds-v2 V2 --vcpus 1"
	# Not ember's arguments: two L2s through emberctl (run_fleet), one vCPU each.
	"fleet-switch-ping --vcpus 1"
	"vmlinux-poweroff --kernel /payload/vmlinux --initrd /payload/l2-test.cpio.gz --vcpus 2 --memory 256 --rng --boot-args 'console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux ember.end=poweroff'"
	# L1's kernel package, as shipped. ember's default command line but for "nomodule",
	# which sets modules_disabled: every insmod would fail with EPERM.
	"debian-stock-2cpu --kernel /payload/stock-vmlinuz --initrd /payload/l2-stock.cpio.gz --vcpus 2 --memory 256 --disk /payload/disk0.img,ro --boot-args 'console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.dumbkbd'"
	"snapshot-restore --kernel /payload/bzImage --initrd /payload/l2-test.cpio.gz --vcpus 2 --memory 256 --rng --disk /payload/disk0.img,id=ember-nested --disk /payload/disk1.img,ro --vsock 3,/tmp/v.sock --net tap0,mac=02:00:00:00:00:02 --boot-args 'console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux ember.vsock=1 ember.snapshot=1'"
)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"
nested_select tests
setup_fail() { nested_setup_fail "$@"; }
[ ${#tests[@]} -gt 0 ] || setup_fail "NESTED_ONLY='${NESTED_ONLY:-}' names no run"

mkdir -p "$out"
log=$out/run-tests.log
: >"$log"

# --- setup -------------------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null ||
	setup_fail "no qemu-system-x86_64 on this host (apt-get install qemu-system-x86)"
[ -f "$ember" ] || setup_fail "no ember binary at $ember"
for k in vmlinux bzImage; do
	[ -f "$guest/$k" ] || setup_fail "no L2 kernel $guest/$k"
done
if ! "$here/l1-kernel.sh" "$cache" >>"$log" 2>&1; then
	setup_fail "could not obtain the L1 kernel: $(tail -n 1 "$log" | sed 's/^l1-kernel: //'); see $log"
fi

payload=$out/payload-test
rm -rf "$payload"
mkdir -p "$payload"
ln -s "$guest/vmlinux" "$payload/vmlinux"
ln -s "$guest/bzImage" "$payload/bzImage"
if [ -n "${NESTED_EXTRA_PAYLOAD:-}" ]; then
	for f in "$NESTED_EXTRA_PAYLOAD"/*; do
		ln -s "$(cd "$(dirname "$f")" && pwd)/${f##*/}" "$payload/${f##*/}"
	done
fi
# Disks for the virtio-blk run: a known sector 0 on the first; the second is attached ro.
{ printf 'ember nested disk, sector 0'; head -c $((256 * 1024 - 27)) /dev/zero; } >"$payload/disk0.img"
head -c $((64 * 1024)) /dev/zero >"$payload/disk1.img"
blk_sector0=$(head -c 512 "$payload/disk0.img" | md5sum | cut -c1-32)
# An ext4 disk for the SIGKILL run; the L1 reads it back through a loop device.
mkfs.ext4 -q -F "$payload/ext4.img" 16M >>"$log" 2>&1 || setup_fail "mkfs.ext4 failed (apt-get install e2fsprogs)"
blk_want="L2-BLK vda=512 bytes=262144 serial=ember-nested vdb-ro=1 sector0=$blk_sector0 readback=ember-blk-nested vdb-write=refused"
gcc -static -O2 -o "$out/vsock_tool" "$here/../tools/vsock_tool.c" >>"$log" 2>&1 ||
	setup_fail "could not build vsock_tool (see $log)"
cp "$out/vsock_tool" "$payload/vsock_tool"
gcc -static -O2 -o "$payload/api_client" "$here/../tools/api_client.c" >>"$log" 2>&1 ||
	setup_fail "could not build api_client (see $log)"
gcc -static -O2 -o "$out/mmds_client" "$here/../tools/mmds_client.c" >>"$log" 2>&1 ||
	setup_fail "could not build mmds_client (see $log)"
# The fleet run's programs: emberctl built like ember (static), and ember-switch.
case " ${tests[*]} " in
*" fleet-switch-ping "*)
	for b in "$(dirname "$ember")/emberctl${ember##*/ember}" "$(dirname "$ember")/ember-switch"; do
		[ -f "$b" ] || setup_fail "no $b for the fleet run (make STATIC=1 all)"
	done
	cp "$(dirname "$ember")/emberctl${ember##*/ember}" "$payload/emberctl"
	cp "$(dirname "$ember")/ember-switch" "$payload/ember-switch"
	;;
esac
"$here/mk-l2-initramfs.sh" "$payload/l2-test.cpio.gz" test "$out/vsock_tool" "$out/mmds_client" >>"$log" 2>&1 ||
	setup_fail "could not build the L2 initramfs (see $log)"
# The stock run: L1's kernel (14 MiB, only in L1s that do this run) and its modules.
case " ${tests[*]} " in
*" debian-stock-2cpu "*)
	ln -s "$cache/l1/vmlinuz" "$payload/stock-vmlinuz"
	"$here/mk-l2-initramfs.sh" "$payload/l2-stock.cpio.gz" stock "$cache/l1/l2-modules" >>"$log" 2>&1 ||
		setup_fail "could not build the stock L2 initramfs (see $log)"
	;;
esac
stock_vda="L2-VDA-READ=$(head -c 27 "$payload/disk0.img")"
# The keeper VM's guest (gen_script), from make guests.
keeper=${NESTED_KEEPER:-$repo/build/guest/fleet_idle.elf}
if [ -f "$keeper" ]; then
	ln -s "$keeper" "$payload/fleet_idle.elf"
else
	echo "nested: no keeper guest at $keeper (make guests): each run's VM is L1's only one, which has stopped L1 here (see run-tiny.sh)"
fi

# gen_script NAME...: /run.sh for an L1 that does those runs. Each run is
# delimited by NESTED-BEGIN and NESTED-RESULT; ember's stderr is kept apart and
# printed after its run, prefixed.
# shellcheck disable=SC2317 # (called through nested_runs)
gen_script() {
	local t
	cat <<EOS
#!/bin/sh
# Generated by tests/nested/x86_64/run-tests.sh.
EOS
	nested_l1_runner "$run_timeout"
	nested_l1_mmds
	# NESTED_MMDS_BENCH=N (bench/mmds): the mmds runs time N GETs at their end.
	echo "mmds_bench=${NESTED_MMDS_BENCH:-}"
	cat <<EOS
# run_vsock NAME ARGS...: the host ends of the vsock test around an ordinary run: an echo
# server on <uds>_5000 for the guest's client, and a client that CONNECTs to port 1234.
run_vsock() {
	# Their lines go to files: on the console they would cut into the guest's.
	/payload/vsock_tool echo-uds /tmp/v.sock_5000 >/tmp/vsock-echo.out 2>&1 &
	/payload/vsock_tool client-uds /tmp/v.sock 1234 1048576 >/tmp/vsock-client.out 2>&1 &
	client=\$!
	run "\$@"
	i=0
	while kill -0 \$client 2>/dev/null && [ \$i -lt 30 ]; do sleep 1; i=\$((i + 1)); done
	kill \$client 2>/dev/null
	cat /tmp/vsock-echo.out /tmp/vsock-client.out
}

# step WHAT: a progress line of a run whose guest prints to a file, not to the console:
# L1's console then shows that L1 goes on (the host stops an L1 that shows none for long).
step() {
	echo "NESTED-STEP \$name \$1 t=\$(now)"
}

# run_snapshot NAME ARGS...: boot with ARGS and an API socket; once the guest is
# ready, pause it, snapshot it and SIGKILL ember; move L1's address from tap0 to
# tap1; restore in a new ember with tap1 in network_overrides, and send the
# guest the line it waits for. Then the vsock host ends of run_vsock, and the
# rest as run does.
run_snapshot() {
	name=\$1
	shift
	echo "NESTED-BEGIN \$name"
	t0=\$(now)
	rm -f /tmp/\$name.in /tmp/a1.sock /tmp/a2.sock /tmp/snap.state /tmp/snap.mem
	mkfifo /tmp/\$name.in
	exec 3<>/tmp/\$name.in
	/bin/ember --api-sock /tmp/a1.sock "\$@" <&3 >/tmp/\$name.out 2>/tmp/\$name.err &
	pid=\$!
	i=0
	while [ \$i -lt $((run_timeout * 10)) ] && ! grep -q L2-SNAP-READY /tmp/\$name.out; do
		sleep 0.1
		i=\$((i + 1))
	done
	step "ready=\$(grep -c L2-SNAP-READY /tmp/\$name.out)"
	snap0=\$(now)
	/payload/api_client /tmp/a1.sock PATCH /vm '{"state":"Paused"}' >>/tmp/\$name.api 2>&1
	/payload/api_client /tmp/a1.sock PUT /snapshot/create \\
		'{"snapshot_type":"Full","snapshot_path":"/tmp/snap.state","mem_file_path":"/tmp/snap.mem"}' \\
		>>/tmp/\$name.api 2>&1
	snap1=\$(now)
	step "paused and saved"
	kill -9 \$pid
	reap \$pid 20
	step "killed"
	ls -ls /tmp/snap.state /tmp/snap.mem >>/tmp/\$name.api 2>&1
	ip addr del 169.254.100.1/24 dev tap0
	tunctl -t tap1 >/dev/null 2>&1
	ip addr add 169.254.100.1/24 dev tap1
	ip link set tap1 up
	/payload/vsock_tool echo-uds /tmp/v.sock_5000 >/tmp/vsock-echo.out 2>&1 &
	/bin/ember --api-sock /tmp/a2.sock <&3 >>/tmp/\$name.out 2>>/tmp/\$name.err &
	pid=\$!
	load0=\$(now)
	/payload/api_client /tmp/a2.sock PUT /snapshot/load \\
		'{"snapshot_path":"/tmp/snap.state","mem_backend":{"backend_type":"File","backend_path":"/tmp/snap.mem"},"network_overrides":[{"iface_id":"net0","host_dev_name":"tap1"}],"resume_vm":true}' \\
		>>/tmp/\$name.api 2>&1
	load1=\$(now)
	step "loaded"
	echo "snapshot \$(awk "BEGIN { print \$snap1 - \$snap0 }") s, load \$(awk "BEGIN { print \$load1 - \$load0 }") s (L1 time)" >>/tmp/\$name.api
	# The guest connects to the host's echo at once; the host's client waits for its own.
	echo go >&3
	/payload/vsock_tool client-uds /tmp/v.sock 1234 1048576 >/tmp/vsock-client.out 2>&1 &
	client=\$!
	watchdog
	wait \$pid
	rc=\$?
	t1=\$(now)
	kill \$wd 2>/dev/null
	i=0
	while kill -0 \$client 2>/dev/null && [ \$i -lt 30 ]; do sleep 1; i=\$((i + 1)); done
	kill \$client 2>/dev/null
	exec 3>&-
	ip addr del 169.254.100.1/24 dev tap1
	ip addr add 169.254.100.1/24 dev tap0
	to=0
	[ ! -e /tmp/\$name.timedout ] || to=1
	cat /tmp/\$name.out
	echo
	cat /tmp/vsock-echo.out /tmp/vsock-client.out
	sed "s/^/NESTED-STDERR \$name: /" /tmp/\$name.err
	sed "s/^/NESTED-API \$name: /" /tmp/\$name.api
	echo "NESTED-RESULT \$name rc=\$rc secs=\$(awk "BEGIN { printf \\"%.1f\\", \$t1 - \$t0 }") timeout=\$to"
}

# run_fleet NAME: two L2s through emberctl, each on its own L1 CPU ("cpus"), on one
# ember-switch ("switch": "lan", no TAP); each pings the other's IP. Their consoles are
# read through emberctl vm console (its replay holds the start), prefixed "l2-N| ".
run_fleet() {
	name=\$1
	echo "NESTED-BEGIN \$name"
	t0=\$(now)
	cp /payload/ember-switch /bin/ember-switch
	ctl() { /payload/emberctl --state-dir /tmp/fleet --ember /bin/ember "\$@"; }
	ctl switch create lan >/tmp/\$name.err 2>&1
	for i in 1 2; do
		cat >/tmp/l2-\$i.json <<EOF
{"boot-source": {"kernel_image_path": "/payload/bzImage", "initrd_path": "/payload/l2-test.cpio.gz",
  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux ember.ip=169.254.101.\$i ember.peer=169.254.101.\$((3 - i))"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "network-interfaces": [{"iface_id": "eth0", "guest_mac": "02:00:00:00:01:0\$i", "switch": "lan"}],
 "logger": {"log_path": "/tmp/l2-\$i.log", "level": "Info"},
 "emberctl": {"name": "l2-\$i", "cpus": "\$((i - 1))"}}
EOF
		ctl vm config /tmp/l2-\$i.json >>/tmp/\$name.err 2>&1
	done
	rm -f /tmp/con.in
	mkfifo /tmp/con.in
	exec 4<>/tmp/con.in
	# One after the other: l2-2 boots once l2-1's kernel is up. Two L2 kernels booting at
	# once in this L1 lost one of them in 4 of 31 runs (an L1 panic, L1 frozen, an L2 that
	# ended early); their pings still overlap, as each retries until the other answers.
	i=0
	for vm in 1 2; do
		ctl vm boot l2-\$vm >>/tmp/\$name.err 2>&1
		ctl vm console l2-\$vm <&4 >/tmp/l2-\$vm.out 2>&1 &
		while [ \$i -lt $run_timeout ] && ! grep -q L2-CPUS /tmp/l2-\$vm.out; do
			sleep 1
			i=\$((i + 1))
		done
		step "l2-\$vm up=\$(grep -c L2-CPUS /tmp/l2-\$vm.out)"
	done
	# Every thread of each ember (its vCPU too, once its guest prints) on its one CPU.
	i=0
	while [ \$i -lt $run_timeout ] && ! { grep -q L2-CPUS /tmp/l2-1.out && grep -q L2-CPUS /tmp/l2-2.out; }; do
		sleep 1
		i=\$((i + 1))
	done
	step "both up"
	for i in 1 2; do
		p=\$(cut -d' ' -f1 /tmp/fleet/vms/l2-\$i/ember.pid)
		echo "L1-TASK-CPUS l2-\$i threads=\$(ls /proc/\$p/task | wc -l) cpus=\$(cat /proc/\$p/task/*/status | sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' | sort -u | tr '\\n' ' ')"
	done
	i=0
	while [ \$i -lt $run_timeout ] && ctl vm list | grep -q Running; do
		sleep 1
		i=\$((i + 1))
	done
	[ \$i -lt $run_timeout ] || { : >/tmp/\$name.timedout; ctl vm kill l2-1; ctl vm kill l2-2; }
	step "ended"
	t1=\$(now)
	sleep 1
	exec 4>&-
	for i in 1 2; do sed "s/^/l2-\$i| /" /tmp/l2-\$i.out; echo; done
	# ember's own log (info) and stderr, for a VM that ended early.
	for i in 1 2; do
		sed "s/^/NESTED-LOG l2-\$i: /" /tmp/l2-\$i.log /tmp/fleet/vms/l2-\$i/ember.log
	done
	ctl vm list >/tmp/\$name.api 2>&1
	ctl switch show lan >>/tmp/\$name.api 2>&1
	ctl switch rm lan >>/tmp/\$name.err 2>&1
	rc=0
	[ "\$(grep -c ' Stopped ' /tmp/\$name.api)" = 2 ] || rc=1
	to=0
	[ ! -e /tmp/\$name.timedout ] || to=1
	sed "s/^/NESTED-STDERR \$name: /" /tmp/\$name.err
	sed "s/^/NESTED-API \$name: /" /tmp/\$name.api
	echo "NESTED-RESULT \$name rc=\$rc secs=\$(awk "BEGIN { printf \\"%.1f\\", \$t1 - \$t0 }") timeout=\$to"
}

# run_mmds NAME V1|V2: an L2 with a virtio-net on tap0 and ember's MMDS on it (a config
# file, --metadata for the store's first contents, an API socket); mmds_patch PATCHes the
# store once the guest asks. \$mmds_bench (a count) makes the guest time that many GETs at
# the end (mmds_patch records ember's CPU ticks).
run_mmds() {
	name=\$1
	ver=\$2
	bench=
	if [ -n "\${mmds_bench:-}" ]; then
		bench=" ember.mmds_bench=\$mmds_bench"
		# The comparison: the same GETs to a plain HTTP server in L1 over the TAP.
		mkdir -p /tmp/www && echo ami-12345678 >/tmp/www/ami-id
		busybox httpd -p 169.254.100.1:8080 -h /tmp/www
	fi
	cat >/tmp/\$name.json <<EOF
{"boot-source": {"kernel_image_path": "/payload/bzImage", "initrd_path": "/payload/l2-test.cpio.gz",
  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux ember.mmds=\$ver\$bench"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "network-interfaces": [{"iface_id": "eth0", "guest_mac": "02:00:00:00:00:02", "host_dev_name": "tap0"}],
 "mmds-config": {"network_interfaces": ["eth0"], "version": "\$ver"},
 "metrics": {"metrics_path": "/tmp/\$name.metrics"}}
EOF
	rm -f /tmp/m.sock
	: >/tmp/\$name.metrics
	mmds_metrics=/tmp/\$name.metrics
	start_fifo \$name --api-sock /tmp/m.sock --config-file /tmp/\$name.json --metadata /tmp/meta.json
	mmds_patch /payload/api_client /tmp/m.sock
	finish
}

# run_kill NAME MARKER ARGS...: once the guest prints MARKER, SIGKILL ember; then the
# L1 mounts the first --disk image itself and prints the file the guest wrote.
run_kill() {
	name=\$1
	marker=\$2
	shift 2
	echo "NESTED-BEGIN \$name"
	t0=\$(now)
	/bin/ember "\$@" </dev/null >/tmp/\$name.out 2>/tmp/\$name.err &
	pid=\$!
	i=0
	while [ \$i -lt $((run_timeout * 10)) ] && ! grep -q "\$marker" /tmp/\$name.out; do
		sleep 0.1
		i=\$((i + 1))
	done
	kill -9 \$pid
	wait \$pid
	rc=\$?
	t1=\$(now)
	cat /tmp/\$name.out
	echo
	sed "s/^/NESTED-STDERR \$name: /" /tmp/\$name.err
	img=\$(echo "\$@" | sed -n 's/.*--disk \\([^ ,]*\\).*/\\1/p')
	mkdir -p /mnt
	if losetup /dev/loop0 "\$img" && mount -t ext4 -o ro /dev/loop0 /mnt; then
		echo "L1-EXT4-FILE=\$(cat /mnt/ember.txt 2>/dev/null)"
		umount /mnt
	fi
	losetup -d /dev/loop0 2>/dev/null
	echo "NESTED-RESULT \$name rc=\$rc secs=\$(awk "BEGIN { printf \\"%.1f\\", \$t1 - \$t0 }") timeout=0"
}
EOS
	# A keeper: one idle VM for the whole of L1's runs, so that KVM's preempt-notifier
	# static key stays on and the runs' VMs, each the only one, do not patch L1's
	# __schedule with every start and end; why that can stop L1 here: run-tiny.sh.
	if [ -f "$payload/fleet_idle.elf" ]; then
		cat <<EOS
ember --kernel /payload/fleet_idle.elf --memory 32 --boot-args console=ttyS0 </dev/null >/tmp/keeper.out 2>&1 &
keeper=\$!
i=0
while [ \$i -lt 100 ] && ! grep -q IDLE-READY /tmp/keeper.out; do sleep 0.1; i=\$((i + 1)); done
echo "NESTED-KEEPER ready=\$(grep -c IDLE-READY /tmp/keeper.out)"
EOS
	fi
	for t in "${tests[@]}"; do
		case " $* " in *" ${t%% *} "*) ;; *) continue ;; esac
		case $t in
		ext4-sigkill*) echo "run_kill ext4-sigkill L2-EXT4-SYNCED ${t#ext4-sigkill }" ;;
		snapshot-restore*) echo "run_snapshot $t" ;;
		fleet-switch-ping*) echo "run_fleet fleet-switch-ping" ;;
		vsock-echo*) echo "run_vsock $t" ;;
		mmds-v*) echo "run_mmds ${t% --vcpus *}" ;;
		vmlinux-poweroff* | debian-stock-2cpu*) echo "run_secs=$poweroff_timeout; run $t; run_secs=" ;;
		*) echo "run $t" ;;
		esac
	done
	# shellcheck disable=SC2016 # (L1's $keeper)
	[ ! -f "$payload/fleet_idle.elf" ] || echo 'kill $keeper'
	echo 'echo "NESTED-DONE"'
}

# --- boot L1, retrying only when it never reached its /init ------------------
# L1 silent this long means L1 is stuck, not a run: the /run.sh watchdog ends any run sooner.
freeze_secs=$((run_timeout + 30))
# Nor is any run without a NESTED- line this long (the fleet's and snapshot's print a
# NESTED-STEP after each wait): an L1 whose user space stopped may still print kernel
# warnings until QEMU's time limit (which fits one CI run: no result, ~20 minutes lost).
l1_progress_re='^NESTED-(BEGIN|STEP|RESULT) '
l1_progress_secs=$((2 * run_timeout + 30))
# Then the vCPUs' state (monitor-dump.py, through a second monitor on a socket) goes to
# $stopped, to tell where L1 was.
monitor=$out/monitor.sock
stopped=$out/l1-stopped.txt
rm -f "$stopped"
# shellcheck disable=SC2317 # (called by nested_watch_l1)
dump_l1() {
	echo "=== L1 boot $boots, $(date -u +%FT%TZ) ===" >>"$stopped"
	"$here/../monitor-dump.py" "$monitor" 2 >>"$stopped" 2>&1
}
l1_before_stop=dump_l1
# The last L1 console, without carriage returns (see nested_boot_l1).
cur=$out/l1.log
l1_pids=
boots=0
# Interrupted: take QEMU (run-l1.sh execs timeout, which passes it on) along.
# shellcheck disable=SC2317,SC2086 # (called by the trap; a list of pids)
cleanup() { [ -z "$l1_pids" ] || kill $l1_pids 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# boot_runs NAME...: one L1 (nested_boot_l1: up to $tries boots) that does these runs.
# shellcheck disable=SC2317 # (called by nested_runs)
boot_runs() {
	local total=$((start_timeout + $# * (run_timeout + 5) + 30))
	boots=$((boots + 1))
	script=$out/l1-run-tests.sh
	gen_script "$@" >"$script"
	# Uncompressed: gzip would cost ~2 s here and ~0.5 s of L1 boot.
	initrd=$out/l1-tests.cpio
	"$here/mk-l1-initramfs.sh" "$initrd" "$ember" "$script" "$payload" >>"$log" 2>&1 ||
		setup_fail "could not build the L1 initramfs (see $log)"
	not_started=
	rm -f "$monitor"
	nested_boot_l1 "" "$cur" "$total" "$here/run-l1.sh" "$initrd" "$total" \
		-monitor "unix:$monitor,server=on,wait=off" ||
		not_started="L1 did not start in $tries tries"
	# The first L1 never starting is a setup problem; a later one fails its runs.
	[ -z "$not_started" ] || [ "$boots" -gt 1 ] || setup_fail "$not_started"
	kvm_missing=
	grep -q 'L1-KVM-MISSING' "$cur" && kvm_missing=" (L1 had no /dev/kvm)"
	return 0
}

# --- results -----------------------------------------------------------------
# snapshot_checks SECTION: the guest lived through the snapshot and restore.
# shellcheck disable=SC2317 # (called by judge_run)
snapshot_checks() {
	local sect=$1 ready restored up0 up1
	ready=$(grep -a -o 'L2-SNAP-READY uptime=[0-9.]*' "$sect" | head -n 1 | cut -d= -f2)
	restored=$(grep -a 'L2-RESTORED ' "$sect" | head -n 1)
	# Pause, create and load: three 204s.
	[ "$(grep -a -c '^NESTED-API .*HTTP/1.1 204' "$sect")" -ge 3 ] ||
		reasons+=("the API refused a snapshot request: $(grep -a -m 1 '^NESTED-API .*HTTP/1.1 4' "$sect")")
	if [ -z "$ready" ]; then
		reasons+=("the guest never printed L2-SNAP-READY")
	elif [ -z "$restored" ]; then
		reasons+=("the restored guest never printed L2-RESTORED")
	else
		up0=${ready%.*}
		up1=$(sed -n 's/.*uptime=\([0-9]*\).*/\1/p' <<<"$restored")
		[ "$up1" -ge "$up0" ] || reasons+=("the guest's uptime restarted: $up0 s, then $up1 s")
		grep -q 'ticker-alive=1' <<<"$restored" ||
			reasons+=("the process started before the snapshot is gone")
		grep -q 'got=go' <<<"$restored" || reasons+=("the console line did not reach the guest")
	fi
}

# fleet_checks SECTION: both L2s pinged each other through the switch, each ember's
# threads stayed on its CPU, and both guests ended their runs.
# shellcheck disable=SC2317 # (called by judge_run)
fleet_checks() {
	local sect=$1 i
	for i in 1 2; do
		grep -q -a "^l2-$i| L2-PEER-PING-OK 169.254.101.$((3 - i)) 3 packets received" "$sect" ||
			reasons+=("l2-$i could not ping 169.254.101.$((3 - i)) through the switch")
		grep -q -a "^L1-TASK-CPUS l2-$i threads=[0-9]* cpus=$((i - 1)) \$" "$sect" ||
			reasons+=("l2-$i's threads not all on CPU $((i - 1)): $(grep -a "^L1-TASK-CPUS l2-$i " "$sect")")
		grep -q -a "^l2-$i| L2-MARKER-OK" "$sect" || reasons+=("no L2-MARKER-OK from l2-$i")
	done
}

# poweroff_checks SECTION: the guest found its virtio-rng (device 4) through ACPI,
# with no virtio_mmio.device= on its command line (which would add each device a
# second time), and got as far as its power-off.
# shellcheck disable=SC2317 # (called by judge_run)
poweroff_checks() {
	local sect=$1 rng
	grep -q -a '^L2-POWEROFF' "$sect" || reasons+=("the guest never reached poweroff -f")
	rng=$(grep -a -m 1 '^L2-VIRTIO [a-z0-9]* device=0x0004 ' "$sect" || true)
	if [ -z "$rng" ]; then
		reasons+=("the guest found no virtio-rng device")
	elif ! grep -q 'via=acpi' <<<"$rng"; then
		reasons+=("virtio-rng not found through ACPI (${rng##* })")
	fi
	grep -a -m 1 'Kernel command line:' "$sect" | grep -q 'virtio_mmio\.device=' &&
		reasons+=("virtio_mmio.device= on the guest's command line")
	[ "$(grep -a -c '^L2-VIRTIO ' "$sect")" -le 1 ] ||
		reasons+=("$(grep -a -c '^L2-VIRTIO ' "$sect") virtio devices for one --rng")
}

# stock_checks SECTION: the stock kernel loaded its modules, found its disk (through
# ACPI or not: it has no virtio_mmio.device= parser) and read it, and powered off.
# shellcheck disable=SC2317 # (called by judge_run)
stock_checks() {
	local sect=$1 m got
	while read -r m; do
		[ -z "$m" ] || reasons+=("insmod $m failed")
	done < <(sed -n 's/^L2-INSMOD-FAIL //p' "$sect")
	if grep -q -a '^L2-NO-VDA' "$sect"; then
		reasons+=("no vda ($(grep -a -c '^L2-VIRTIO ' "$sect") virtio devices, ACPI tables: $(sed -n 's/^L2-ACPI-TABLES=//p' "$sect" | head -n 1))")
	elif ! grep -q -a -F -x "$stock_vda" "$sect"; then
		got=$(grep -a -m 1 '^L2-VDA-READ=' "$sect" || true)
		reasons+=("vda: ${got:-nothing} instead of '$stock_vda'")
	fi
	grep -q -a '^L2-POWEROFF' "$sect" || reasons+=("the guest never reached poweroff -f")
	grep -q -a '^L2-I8042-IRQS=[1-9]' "$sect" ||
		reasons+=("the i8042 driver has no IRQ ($(grep -a -m 1 'i8042: probe' "$sect" || echo 'no probe line'))")
}

# judge_run NAME: NAME's PASS/FAIL line, from $cur; its section goes to $out/NAME.out.
# shellcheck disable=SC2317 # (called by nested_runs)
judge_run() {
	local name=$1 t='' e want sect res cpus lasterr rc='' secs='' show_err=0 m
	local reasons=()
	for e in "${tests[@]}"; do
		[ "${e%% *}" != "$name" ] || t=$e
	done
	want=$(sed -n 's/.*--vcpus \([0-9]*\).*/\1/p' <<<"$t")
	# This run's lines, BEGIN through RESULT (or to the end if it never ended).
	sect=$out/$name.out
	nested_section "$name" "$cur" >"$sect"
	res=$(grep -a "^NESTED-RESULT $name " "$sect" || true)
	cpus=$(grep -a -o 'L2-CPUS=[0-9]*' "$sect" | head -n 1 | cut -d= -f2 || true)
	lasterr=$(grep -a "^NESTED-STDERR $name: ." "$sect" | tail -n 1 | sed "s/^NESTED-STDERR $name: //" || true)
	m=$(nested_stuck "$name" "$sect")
	[ -z "$m" ] || reasons+=("$m")
	if [ -n "$not_started" ]; then
		reasons+=("$not_started")
	elif [ ! -s "$sect" ]; then
		reasons+=("never started: L1 ended or timed out before it$kvm_missing")
	elif [ -z "$res" ]; then
		reasons+=("no result: L1 ended during the run: ${l1_end:-how, unknown}")
	else
		rc=$(sed -n 's/.* rc=\([0-9]*\) .*/\1/p' <<<"$res")
		secs=$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$res")
		if grep -q ' timeout=1' <<<"$res" && grep -q -a '^L2-POWEROFF' "$sect"; then
			reasons+=("ember still running ${secs}s after the guest's poweroff -f, killed")
		elif grep -q ' timeout=1' <<<"$res"; then
			reasons+=("timed out after ${secs}s in L1, ember killed")
			show_err=1
		elif [ "$name" = ext4-sigkill ]; then
			grep -q -a 'L2-EXT4-SYNCED' "$sect" || reasons+=("the guest never synced its file")
			grep -q -a '^L1-EXT4-FILE=ember-ext4-payload-42$' "$sect" ||
				reasons+=("after SIGKILL the host did not find the guest's file intact")
		elif [ "$rc" != 0 ]; then
			reasons+=("ember exited $rc$kvm_missing")
			show_err=1
		fi
		# The SIGKILL run ends before its guest does; its own checks are above.
		[ "$name" = ext4-sigkill ] || grep -q -a 'L2-MARKER-OK' "$sect" ||
			reasons+=("no L2-MARKER-OK")
		# A run with a device must show the guest's driver using it.
		if grep -q -- ' --rng' <<<"$t" &&
			! grep -q -a 'L2-HWRNG-BYTES=64 L2-HWRNG-CURRENT=virtio_rng' "$sect"; then
			reasons+=("/dev/hwrng did not give 64 bytes from virtio_rng")
		fi
		if [ "$name" = snapshot-restore ]; then
			snapshot_checks "$sect"
		fi
		[ "$name" != fleet-switch-ping ] || fleet_checks "$sect"
		if [ "$name" = vsock-echo ] || [ "$name" = snapshot-restore ]; then
			for m in 'L2-CLIENT-OK' 'L2-ECHO-DONE bytes=1048576' 'L1-CLIENT-OK OK ' \
				'L1-ECHO-DONE bytes=1048576' 'L2-REFUSED rc=-1'; do
				grep -q -a -- "$m" "$cur" || reasons+=("no '$m'")
			done
		fi
		if [ "$name" != ext4-sigkill ] && [ "$name" != debian-stock-2cpu ] && grep -q -- ' --disk' <<<"$t" &&
			! grep -q -a -F "$blk_want" "$sect"; then
			reasons+=("the guest's vda/vdb checks differ from '$blk_want'")
		fi
		if grep -q -- ' --net' <<<"$t" && ! grep -q -a 'L2-PING-OK 3 packets received' "$sect"; then
			reasons+=("the guest could not ping L1 over the TAP")
		fi
		case $name in mmds-v*) nested_mmds_checks "${name#mmds-}" "$sect" metrics ;; esac
		[ "$name" != vmlinux-poweroff ] || poweroff_checks "$sect"
		[ "$name" != debian-stock-2cpu ] || stock_checks "$sect"
	fi
	[ "$show_err" = 1 ] || lasterr=
	nested_report "$name" "$secs" "$cpus" "$want" "$lasterr" ${reasons[@]+"${reasons[@]}"}
}

echo "nested: full log in $log"
status=0
names=()
for t in "${tests[@]}"; do names+=("${t%% *}"); done
# status may also be set by nested_boot_l1 (FAIL: nested/l1).
nested_runs boot_runs judge_run "${names[@]}" || status=1
exit $status
