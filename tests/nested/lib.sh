# Helpers shared by the nested-tier scripts of every architecture (x86_64/,
# aarch64/, riscv64/); sourced, not run.
# shellcheck shell=bash

# nested_busybox [PATH]: the static busybox that goes into an L1 or L2
# initramfs. Without PATH: $BUSYBOX, else the host's (Debian busybox-static
# installs it as /bin/busybox).
nested_busybox() {
	local bb=${1:-${BUSYBOX:-}}
	if [ -z "$bb" ]; then
		for bb in /bin/busybox /usr/bin/busybox ""; do
			[ -x "$bb" ] && break
		done
	fi
	if [ -z "$bb" ] || [ ! -x "$bb" ]; then
		echo "nested: no busybox${1:+ at $1} (apt-get install busybox-static)" >&2
		return 1
	fi
	# A dynamic busybox would find no libc in the initramfs.
	if LC_ALL=C readelf -l "$bb" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		echo "nested: $bb is dynamically linked (apt-get install busybox-static)" >&2
		return 1
	fi
	echo "$bb"
}

# nested_rootfs DIR [BUSYBOX]: a minimal root in DIR: busybox with every
# applet linked, the mount points, and the two device nodes the kernel opens
# before devtmpfs. A busybox this host cannot run (another architecture's)
# gets only /bin/sh; the /init must start with `/bin/busybox --install -s`.
nested_rootfs() {
	local dir=$1 bb applets applet
	bb=$(nested_busybox "${2:-}") || return 1
	mkdir -p "$dir"/bin "$dir"/sbin "$dir"/usr/bin "$dir"/usr/sbin "$dir"/etc \
		"$dir"/proc "$dir"/sys "$dir"/dev "$dir"/tmp "$dir"/root "$dir"/run
	cp "$bb" "$dir/bin/busybox"
	chmod 755 "$dir/bin/busybox"
	if applets=$("$bb" --list-full 2>/dev/null); then
		for applet in $applets; do
			[ -e "$dir/$applet" ] || ln -s /bin/busybox "$dir/$applet"
		done
	else
		ln -s busybox "$dir/bin/sh"
	fi
	# Without /dev/console in the archive, init starts with no stdio. mknod
	# needs root; /init also reopens the console after mounting devtmpfs.
	mknod -m 600 "$dir/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$dir/dev/null" c 1 3 2>/dev/null || true
	echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
	echo 'root:x:0:' >"$dir/etc/group"
}

# nested_cpio DIR OUT: pack DIR as a newc cpio; gzip it when OUT ends in .gz.
nested_cpio() {
	local dir=$1 out=$2 tmp
	tmp=$out.tmp.$$
	mkdir -p "$(dirname "$out")"
	(cd "$dir" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$tmp.cpio"
	case $out in
	*.gz) gzip -n -6 <"$tmp.cpio" >"$tmp" && rm -f "$tmp.cpio" ;;
	*) mv "$tmp.cpio" "$tmp" ;;
	esac
	mv "$tmp" "$out"
}

# nested_init_head: the start of an /init for a root from nested_rootfs
# (with a busybox of another architecture too): applets, mounts, console.
nested_init_head() {
	cat <<'EOS'
#!/bin/sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
exec </dev/console >/dev/console 2>&1
cd /
EOS
}

# nested_init_end: the end of such an /init: power off (a reset on x86
# without ACPI, PSCI SYSTEM_OFF on arm64), and never exit (that panics).
nested_init_end() {
	cat <<'EOS'
sync
poweroff -f
while :; do sleep 1; done
EOS
}

# nested_select ARRAY: keeps in the bash array named ARRAY the runs (strings
# whose first word is the run's name) that $NESTED_ONLY names; all if unset.
nested_select() {
	local -n runs=$1
	local t sel=()
	[ -n "${NESTED_ONLY:-}" ] || return 0
	for t in "${runs[@]}"; do
		case " $NESTED_ONLY " in *" ${t%% *} "*) sel+=("$t") ;; esac
	done
	runs=("${sel[@]}")
}

# nested_setup_fail WHY: the suite cannot run at all.
nested_setup_fail() {
	echo "FAIL: nested/setup ($*)"
	exit 1
}

# nested_section NAME CONSOLE: run NAME's lines of an L1 console, from
# "NESTED-BEGIN NAME" through "NESTED-RESULT NAME ..." (or to the end).
nested_section() {
	awk -v n="$1" '$0 == "NESTED-BEGIN " n { on = 1 } on { print }
		on && index($0, "NESTED-RESULT " n " ") == 1 { exit }' "$2"
}

# nested_apt_newest REGEX: the newest package whose name matches REGEX
# (sort -V), after an apt-get update if apt knows none; empty if still none.
nested_apt_newest() {
	local pkg try
	for try in 1 2; do
		pkg=$(apt-cache search --names-only "$1" 2>/dev/null | awk '{ print $1 }' | sort -V | tail -n 1)
		if [ -n "$pkg" ] || [ "$try" = 2 ]; then break; fi
		echo "nested: no package matches $1, running apt-get update" >&2
		apt-get update -q >/dev/null 2>&1 || return 1
	done
	echo "$pkg"
}

# nested_apt_unpack PKG DIR: downloads PKG (as apt names it, e.g. foo:arm64)
# and unpacks its files into DIR.
nested_apt_unpack() {
	local debs
	mkdir -p "$2.deb"
	# apt-get download writes into the current directory. As root, apt drops
	# to the _apt user to download, who could not write there: stay root.
	(cd "$2.deb" && apt-get download -q -o APT::Sandbox::User=root "$1" >/dev/null) || {
		echo "nested: apt-get download $1 failed" >&2
		return 1
	}
	debs=("$2.deb"/*.deb)
	if [ ! -f "${debs[0]}" ] || ! dpkg-deb -x "${debs[0]}" "$2"; then
		echo "nested: could not unpack $1 (${debs[0]})" >&2
		return 1
	fi
	rm -rf "$2.deb"
}

# nested_l1_runner TIMEOUT: prints the shell functions an L1 /run.sh uses to run
# ember: "start NAME ARGS..." (in the background, its guest's console on ours,
# stderr kept in /tmp/NAME.err), "start_fifo NAME ARGS..." (the same with the
# console in /tmp/NAME.out and stdin a FIFO on fd 3; "wait_out MARKER" waits for a line
# there), "finish" (waits, SIGTERM after TIMEOUT s,
# SIGKILL 5 s later; prints stderr, any /tmp/NAME.api, and "NESTED-RESULT NAME
# rc=.. secs=.. timeout=0|1"), and "run NAME ARGS..." (both). A /run.sh that
# sets run_secs=N gives the runs after it N s instead of TIMEOUT.
nested_l1_runner() {
	local run_timeout=$1
	cat <<EOS
now() { cut -d' ' -f1 /proc/uptime; }
# start NAME ARGS...: ember in the background, its guest's console on ours,
# with a watchdog that sends SIGTERM after $run_timeout s (\$run_secs s if set)
# and SIGKILL 5 s later.
# A sleeping watchdog rather than a polling loop, which would take CPU time
# from the L2 in a TCG L1; nor timeout(1): a VMM that exits 0 on SIGTERM would
# hide the time-out.
start() {
	name=\$1
	shift
	echo "NESTED-BEGIN \$name"
	t0=\$(now)
	/bin/ember "\$@" </dev/null 2>/tmp/\$name.err &
	pid=\$!
	watchdog
}
# start_fifo NAME ARGS...: as start, but the guest's console goes to /tmp/NAME.out (a
# script can wait for a line there; finish prints it) and ember's stdin is a FIFO that
# fd 3 holds open: echo LINE >&3 types LINE on the guest's console.
start_fifo() {
	name=\$1
	shift
	echo "NESTED-BEGIN \$name"
	t0=\$(now)
	rm -f /tmp/\$name.in
	mkfifo /tmp/\$name.in
	exec 3<>/tmp/\$name.in
	/bin/ember "\$@" <&3 >/tmp/\$name.out 2>/tmp/\$name.err &
	pid=\$!
	watchdog
}
# wait_out MARKER: until a start_fifo run's console holds MARKER, or its ember has ended.
wait_out() {
	while kill -0 \$pid 2>/dev/null && ! grep -q "\$1" /tmp/\$name.out; do
		sleep 0.1
	done
}
# watchdog: the watchdog of start for \$pid, whose number it keeps in /tmp/NAME.pid; a
# run that replaces its ember (a snapshot's restore) writes the new one's number there.
# An ember still there 10 s after its SIGKILL is reported (stuck).
watchdog() {
	echo \$pid >/tmp/\$name.pid
	(
		sleep \${run_secs:-$run_timeout}
		p=\$(cat /tmp/\$name.pid)
		kill -0 \$p 2>/dev/null || exit 0
		: >/tmp/\$name.timedout
		kill \$p
		sleep 5
		kill -9 \$p 2>/dev/null || exit 0
		sleep 10
		! alive \$p || stuck \$p
	) &
	wd=\$!
}
# alive PID: PID is there and not a zombie (one that SIGKILL has ended but nobody reaped).
alive() {
	[ -e /proc/\$1/status ] && ! grep -q '^State:.*Z' /proc/\$1/status 2>/dev/null
}
# stuck PID: NESTED-STUCK lines for a process that SIGKILL did not end (asleep in L1's
# kernel): its state, and each thread's state and kernel stack.
stuck() {
	echo "NESTED-STUCK \$name pid=\$1 \$(sed -n 's/^State:[[:space:]]*//p' /proc/\$1/status 2>/dev/null) wchan=\$(cat /proc/\$1/wchan 2>/dev/null)"
	for t in /proc/\$1/task/*; do
		echo "NESTED-STUCK \$name thread \${t##*/} \$(cat \$t/comm 2>/dev/null): \$(sed -n 's/^State:[[:space:]]*//p' \$t/status 2>/dev/null)"
		sed "s/^/NESTED-STUCK \$name   /" \$t/stack 2>/dev/null
	done
}
# reap PID SECS: after a SIGKILL, waits for PID as wait does, but for at most SECS s:
# one still there then is reported (stuck), not waited for, and the status is 255.
reap() {
	i=0
	while [ \$i -lt \$((\$2 * 10)) ] && alive \$1; do
		sleep 0.1
		i=\$((i + 1))
	done
	if alive \$1; then
		stuck \$1
		return 255
	fi
	wait \$1
}
# finish: wait for ember, stop its watchdog, print the result.
finish() {
	wait \$pid
	rc=\$?
	t1=\$(now)
	kill \$wd 2>/dev/null
	to=0
	[ ! -e /tmp/\$name.timedout ] || to=1
	# A run started by start_fifo: its console, and the FIFO closed.
	if [ -e /tmp/\$name.in ]; then
		exec 3>&-
		cat /tmp/\$name.out
	fi
	echo
	sed "s/^/NESTED-STDERR \$name: /" /tmp/\$name.err
	[ ! -e /tmp/\$name.api ] || sed "s/^/NESTED-API \$name: /" /tmp/\$name.api
	echo "NESTED-RESULT \$name rc=\$rc secs=\$(awk "BEGIN { printf \"%.1f\", \$t1 - \$t0 }") timeout=\$to"
}
run() {
	start "\$@"
	finish
}
EOS
}

# nested_l2_net: prints the functions an L2 /init uses on its virtio-net eth0 (after the
# mounts; busybox ip, ping and /bin/mmds_client, ../tools/mmds_client.c):
#   arg NAME        the value of NAME=... on the kernel command line (empty if none)
#   l1_ping         eth0 up as 169.254.100.2/24 and 3 pings of L1's tap0, 169.254.100.1
#                   (nested_l1_tap): "L2-PING-OK <n> packets received", or
#                   "L2-PING-FAILED" and ping's output
#   mmds_checks V1|V2  reads ember's MMDS on eth0 (the store as $mmds_data of
#                   nested_l1_mmds), prints "L2-MMDS-PATCH-READY" and waits for a
#                   console line while L1 PATCHes it, reads again, pings L1 again;
#                   each check prints "L2-MMDS-<CHECK> ok" or "... FAIL <got>" (the
#                   list: nested_mmds_checks). ember.mmds_bench=N on the command line
#                   (bench/mmds): then N timed GETs to the MMDS and to L1's httpd.
nested_l2_net() {
	cat <<'EOS'
arg() { for w in $(cat /proc/cmdline); do case $w in "$1"=*) echo "${w#*=}" ;; esac; done; }
l1_ping() {
	ip link set eth0 up
	ip addr add 169.254.100.2/24 dev eth0
	if ping -c 3 -W 3 169.254.100.1 >/tmp/ping 2>&1; then
		echo "L2-PING-OK $(grep -o '[0-9]* packets received' /tmp/ping)"
	else
		echo "L2-PING-FAILED"
		cat /tmp/ping
	fi
}
mmds_checks() {
	ver=$1
	if [ ! -x /bin/mmds_client ]; then
		echo "L2-MMDS FAIL no /bin/mmds_client in this initramfs"
		return
	fi
	ip route add 169.254.169.254 dev eth0
	# want CHECK EXPECTED ARGS...: mmds_client ARGS' output (status line, body) must contain EXPECTED.
	want() {
		check=$1 exp=$2
		shift 2
		got=$(mmds_client "$@" 2>&1 | tr '\r\n' '  ')
		case $got in
		*"$exp"*) echo "L2-MMDS-$check ok" ;;
		*) echo "L2-MMDS-$check FAIL $got" ;;
		esac
	}
	tok=
	if [ "$ver" = V2 ]; then
		tok=$(mmds_client -X PUT -H 'X-metadata-token-ttl-seconds: 60' /latest/api/token | sed -n 2p)
		[ -n "$tok" ] && echo "L2-MMDS-V2-TOKEN ok" || echo "L2-MMDS-V2-TOKEN FAIL"
		want V2-NO-TOKEN "HTTP/1.1 401" /latest/meta-data/ami-id
		short=$(mmds_client -X PUT -H 'X-metadata-token-ttl-seconds: 1' /latest/api/token | sed -n 2p)
		sleep 2
		want V2-EXPIRED-TOKEN "HTTP/1.1 401" -H "X-metadata-token: $short" /latest/meta-data/ami-id
	fi
	h=
	[ -z "$tok" ] || h="X-metadata-token: $tok"
	want $ver-PLAIN "HTTP/1.1 200 OK ami-12345678" ${h:+-H "$h"} /latest/meta-data/ami-id
	want $ver-JSON '"ami-12345678"' ${h:+-H "$h"} -H 'Accept: application/json' /latest/meta-data/ami-id
	want $ver-BEFORE-PATCH "HTTP/1.1 200 OK 1" ${h:+-H "$h"} /latest/meta-data/n
	echo "L2-MMDS-PATCH-READY"
	read -r line
	want $ver-PATCH-SEEN "HTTP/1.1 200 OK 2" ${h:+-H "$h"} /latest/meta-data/n
	# Ordinary traffic to L1 over the same interface, after the MMDS's.
	if ping -c 3 -W 3 169.254.100.1 >/tmp/ping 2>&1; then
		echo "L2-MMDS-L1-PING ok"
	else
		echo "L2-MMDS-L1-PING FAIL"
	fi
	if [ -n "$(arg ember.mmds_bench)" ]; then
		mmds_client ${h:+-H "$h"} -n "$(arg ember.mmds_bench)" /latest/meta-data/ami-id
		echo "L2-HTTPD-$(mmds_client -a 169.254.100.1 -p 8080 -n "$(arg ember.mmds_bench)" /ami-id)"
	fi
}
EOS
}

# nested_l1_tap: prints the lines of an L1 /init (busybox, tun loaded) that make the TAP
# of the virtio-net runs: tap0, 169.254.100.1/24, a link-local subnet that exists only
# inside that L1.
nested_l1_tap() {
	cat <<'EOS'
if tunctl -t tap0 >/dev/null 2>&1; then
	ip addr add 169.254.100.1/24 dev tap0
	ip link set tap0 up
fi
EOS
}

# nested_l1_mmds: prints what an L1 /run.sh needs (after nested_l1_runner's functions)
# for a run whose guest reads ember's MMDS (nested_l2_net's mmds_checks): the store's
# first contents, $mmds_data, also in /tmp/meta.json (for --metadata); and
# "mmds_patch CLIENT SOCKET" (for a run started by start_fifo): once the guest prints
# L2-MMDS-PATCH-READY, PATCH /mmds through SOCKET with api_client CLIENT (n: "1" to
# "2"), GET /mmds (both into /tmp/NAME.api, each after a "> " line), and send the
# guest the line it waits for. With $mmds_bench set (bench/mmds), it then records
# ember's CPU ticks around the guest's timed GETs (L1-MMDS-EMBER-TICKS, in NAME.api).
nested_l1_mmds() {
	cat <<'EOS'
mmds_data='{"latest": {"meta-data": {"ami-id": "ami-12345678", "n": "1"}}}'
echo "$mmds_data" >/tmp/meta.json
mmds_patch() {
	wait_out L2-MMDS-PATCH-READY
	body='{"latest": {"meta-data": {"n": "2"}}}'
	echo "> PATCH /mmds $body" >>/tmp/$name.api
	"$1" "$2" PATCH /mmds "$body" >>/tmp/$name.api 2>&1
	echo "> GET /mmds" >>/tmp/$name.api
	"$1" "$2" GET /mmds >>/tmp/$name.api 2>&1
	echo go >&3
	# With a metrics file (PUT /metrics or the config file's "metrics"): the mmds section
	# of a line flushed once the guest's MMDS checks are over.
	if [ -n "${mmds_metrics:-}" ]; then
		wait_out L2-MMDS-L1-PING
		echo "> PUT /actions FlushMetrics" >>/tmp/$name.api
		"$1" "$2" PUT /actions '{"action_type": "FlushMetrics"}' >>/tmp/$name.api 2>&1
		echo "L1-MMDS-METRICS $(tail -n 1 "$mmds_metrics" | grep -o '"mmds":{[^}]*}')" >>/tmp/$name.api
	fi
	[ -n "${mmds_bench:-}" ] || return 0
	# ember's utime+stime (clock ticks) around the guest's timed GETs: the whole process
	# (its vCPU threads' time includes the guest's own, spent in KVM_RUN), and its other
	# threads alone (the device thread, where the MMDS answers: the VMM-side cost).
	wait_out L2-MMDS-L1-PING
	c0=$(awk '{ print $14 + $15 }' /proc/$pid/stat)
	v0=$(vmm_ticks)
	wait_out MMDS-LATENCY
	c1=$(awk '{ print $14 + $15 }' /proc/$pid/stat)
	v1=$(vmm_ticks)
	echo "L1-MMDS-EMBER-TICKS before=$c0 after=$c1 vmm_before=$v0 vmm_after=$v1" >>/tmp/$name.api
}
# The clock ticks of ember's threads but its vCPUs (their names: "ember_vcpu N").
vmm_ticks() {
	sum=0
	for t in /proc/$pid/task/*; do
		case $(cat $t/comm 2>/dev/null) in ember_vcpu*) continue ;; esac
		# Fields after the ")" that ends the name: utime and stime are the 12th and 13th.
		sum=$((sum + $(sed 's/.*) //' $t/stat 2>/dev/null | awk '{ print $12 + $13 + 0 }')))
	done
	echo $sum
}
EOS
}

# nested_mmds_checks V1|V2 SECTION: a run's MMDS checks, for its judge (it adds to the
# caller's reasons array): in SECTION (the run's console), every check of the guest's
# mmds_checks said ok (V2: the token's and both 401s too), L1's PATCH /mmds got a 204,
# and the guest pinged L1 over the same eth0 before and after the MMDS's traffic. With a
# third argument "metrics": the metrics line mmds_patch flushed counted that traffic.
nested_mmds_checks() {
	local v=${1^^} sect=$2 m patch
	local checks=("$v-PLAIN" "$v-JSON" "$v-BEFORE-PATCH" "$v-PATCH-SEEN" L1-PING)
	[ "$v" = V1 ] || checks+=(V2-TOKEN V2-NO-TOKEN V2-EXPIRED-TOKEN)
	for m in "${checks[@]}"; do
		grep -q -a "^L2-MMDS-$m ok" "$sect" ||
			reasons+=("MMDS $m: $(grep -a -m 1 "^L2-MMDS-$m \|^L2-MMDS FAIL" "$sect" || echo 'no line')")
	done
	patch=$(grep -a -A 1 '^NESTED-API [^ ]*: > PATCH /mmds ' "$sect" | sed -n '2s/^NESTED-API [^ ]*: //p')
	case $patch in
	'HTTP/1.1 204'*) ;;
	*) reasons+=("PATCH /mmds not accepted: ${patch:-no answer}") ;;
	esac
	grep -q -a 'L2-PING-OK 3 packets received' "$sect" || reasons+=("the guest could not ping L1 over the TAP")
	[ "${3:-}" = metrics ] || return 0
	# The mmds metrics saw the guest's traffic: frames both ways, connections, requests.
	m=$(grep -a -m 1 'L1-MMDS-METRICS ' "$sect")
	for k in rx_accepted tx_frames tx_bytes connections_created connections_destroyed requests; do
		[[ $m =~ \"$k\":[1-9] ]] || reasons+=("mmds metrics: no $k in: ${m:-no metrics line}")
	done
}

# nested_report NAME SECS CPUS WANT LASTERR [REASON...]: prints the run's
# PASS or FAIL line, adding a reason if the guest did not see WANT CPUs, and
# LASTERR (ember's last stderr line, may be empty) to a failure. 1 on FAIL.
nested_report() {
	local name=$1 secs=$2 cpus=$3 want=$4 lasterr=$5 why
	shift 5
	local reasons=("$@")
	if [ -z "$cpus" ]; then
		reasons+=("no L2-CPUS")
	elif [ "$cpus" != "$want" ]; then
		reasons+=("L2-CPUS=$cpus, expected $want")
	fi
	if [ ${#reasons[@]} -eq 0 ]; then
		echo "PASS: nested/$name (${secs}s in L1, cpus=$cpus)"
		return 0
	fi
	why=$(printf '%s; ' "${reasons[@]}")
	why=${why%; }
	[ -z "$lasterr" ] || why="$why; ember: $lasterr"
	echo "FAIL: nested/$name ($why)"
	return 1
}

# nested_watch_l1 QPID CONSOLE SECS [BEFORE_STOP [PROGRESS_RE PROGRESS_SECS]]: waits
# for the L1 QEMU (QPID, the run-l1.sh that execs timeout(1)) to end. If its CONSOLE
# file does not grow for SECS seconds, L1's own kernel has stopped: each run inside L1
# is bounded by the /run.sh watchdog, which prints a result line well before that.
# With PROGRESS_RE, L1 has also stopped if no new line matches it for PROGRESS_SECS
# seconds although the console grows: an L1 whose user space no longer runs can go on
# printing kernel warnings (RCU stalls, lockups) until QEMU's time limit. Then the
# command BEFORE_STOP runs, if given (say, to keep the vCPUs' state), QEMU is stopped,
# two lines are printed, the run that was going and why L1 was judged stopped, and it
# returns 1.
nested_watch_l1() {
	local qpid=$1 console=$2 secs=$3 before_stop=${4:-} progress_re=${5:-} progress_secs=${6:-0}
	local size last=-1 silent=0 marks last_marks=-1 still=0 why=
	while kill -0 "$qpid" 2>/dev/null; do
		size=$(stat -c %s "$console" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size
			silent=0
		elif [ $((silent += 1)) -ge "$secs" ]; then
			why="its console silent for ${secs}s"
		fi
		if [ -n "$progress_re" ] && [ -z "$why" ]; then
			marks=$(grep -a -c -E "$progress_re" "$console" 2>/dev/null || true)
			if [ "$marks" != "$last_marks" ]; then
				last_marks=$marks
				still=0
			elif [ $((still += 1)) -ge "$progress_secs" ]; then
				why="no progress line for ${progress_secs}s, its console still growing: $(tail -c 2000 "$console" |
					tr -d '\r' | grep -a -v '^[[:space:]]*$' | tail -n 1 | cut -c 1-160)"
			fi
		fi
		if [ -n "$why" ]; then
			[ -z "$before_stop" ] || "$before_stop" || true
			pkill -TERM -P "$qpid" 2>/dev/null || true
			kill "$qpid" 2>/dev/null || true
			grep -a 'NESTED-BEGIN' "$console" | tail -n 1 | sed 's/^NESTED-BEGIN //'
			echo "$why"
			return 1
		fi
		sleep 1
	done
	return 0
}

# nested_boot_l1 LABEL CONSOLE TOTAL_S CMD...: boots an L1 with CMD (a run-l1.sh
# that execs timeout(1) with QEMU; TOTAL_S its time limit, for reference), its
# console in the file CONSOLE (carriage returns removed at the end); the
# messages call it "L1 (LABEL)", or "L1" if LABEL is empty. Boots again
# only an L1 that never printed L1-STARTED within $start_timeout s, or whose
# console then stayed silent for $freeze_secs s (L1 itself stopped: every run
# again), $tries boots in all, and says so. The caller's globals: log (each
# try's console is appended), start_timeout, freeze_secs, tries, and if set
# l1_before_stop, l1_progress_re and l1_progress_secs (nested_watch_l1's
# BEFORE_STOP, PROGRESS_RE and PROGRESS_SECS); l1_pids is set while QEMU runs
# (for the caller's cleanup trap); l1_end says how the last L1 ended (for a run
# with no result); status=1 when a stopped L1 has no boot left ("FAIL:
# nested/<CONSOLE's name>"). Returns 1 if L1 never started. VERBOSE=1 streams
# the console.
# shellcheck disable=SC2154,SC2034 # (log, tries, start_timeout, freeze_secs, l1_*, status: the caller's)
nested_boot_l1() {
	local l1="L1${1:+ ($1)}" cur=$2 total=$3 try t0 qpid tailpid='' rc late frozen='' frozen_in panic
	shift 3
	for try in $(seq 1 "$tries"); do
		[ "$try" -eq 1 ] || [ -n "$frozen" ] ||
			echo "nested: $l1 did not start, retry $try/$tries"
		echo "=== $l1 boot, try $try/$tries, $(date -u +%FT%TZ) ===" >>"$log"
		: >"$cur"
		t0=$(date +%s)
		"$@" >"$cur" 2>&1 &
		qpid=$!
		late=
		l1_pids="$qpid"
		if [ "${VERBOSE:-0}" = 1 ]; then
			tail -n +1 -f "$cur" &
			tailpid=$!
			l1_pids="$qpid $tailpid"
		fi
		# Until /init speaks or the start time is up; then until QEMU ends.
		until grep -q -a 'L1-STARTED' "$cur" || ! kill -0 "$qpid" 2>/dev/null; do
			if [ $(($(date +%s) - t0)) -ge "$start_timeout" ]; then
				late="nested: no /init within ${start_timeout}s, stopped QEMU"
				# run-l1.sh exec'd timeout(1), which passes the signal to QEMU.
				kill "$qpid" 2>/dev/null || true
				break
			fi
			sleep 0.5
		done
		frozen=
		if grep -q -a 'L1-STARTED' "$cur"; then
			echo "=== $l1 reached /init after $(($(date +%s) - t0))s ===" >>"$log"
			frozen_in=$(nested_watch_l1 "$qpid" "$cur" "$freeze_secs" "${l1_before_stop:-}" \
				"${l1_progress_re:-}" "${l1_progress_secs:-0}") ||
				frozen="$l1 stopped during $(head -n 1 <<<"$frozen_in" | sed 's/^$/its start/') ($(sed -n 2p <<<"$frozen_in"))"
		fi
		rc=0
		wait "$qpid" || rc=$?
		case $rc in
		0) l1_end="QEMU exited 0 after $(($(date +%s) - t0))s" ;;
		124 | 137) l1_end="QEMU killed at its ${total}s limit" ;;
		*) l1_end="QEMU exited $rc after $(($(date +%s) - t0))s" ;;
		esac
		# L2s print on this console too; L1's own panic (panic=-1) is the last one.
		panic=$(grep -a 'Kernel panic - not syncing' "$cur" | tail -n 1 | tr -d '\r' | cut -c 1-160 || true)
		[ -z "$panic" ] || l1_end="$l1_end; the console's last panic: $panic"
		[ -z "$frozen" ] || l1_end="$frozen"
		[ -z "$tailpid" ] || kill "$tailpid" 2>/dev/null || true
		l1_pids=
		tr -d '\r' <"$cur" >"$cur.tmp" && mv "$cur.tmp" "$cur"
		cat "$cur" >>"$log"
		[ -z "$late" ] || echo "$late" >>"$log"
		echo "=== $l1 ended: status $rc after $(($(date +%s) - t0))s ===" >>"$log"
		grep -q -a 'L1-STARTED' "$cur" || continue
		if [ -z "$frozen" ]; then
			[ "$try" -eq 1 ] || echo "nested: $l1 started on try $try/$tries"
			return 0
		fi
		# Not a failure of a run: L1 itself stopped. Every run again, in a new L1.
		echo "=== $frozen ===" >>"$log"
		if [ "$try" -eq "$tries" ]; then
			echo "FAIL: nested/$(basename "$cur" .log) ($frozen; no L1 boot left to retry)"
			status=1
			return 0
		fi
		echo "nested: $frozen; every run again in a new L1"
	done
	return 1
}

# nested_stuck NAME SECTION: why run NAME failed if its section has NESTED-STUCK lines
# (an ember that SIGKILL did not end, asleep in L1's kernel); nothing if not.
nested_stuck() {
	local m
	m=$(grep -a -m 1 "^NESTED-STUCK $1 pid=" "$2" || true)
	[ -z "$m" ] || echo "ember did not end on SIGKILL: ${m#NESTED-STUCK "$1" } (its threads' stacks in $2)"
}

# nested_judge NAME CONSOLE NOT_STARTED NOTE WANT_CPUS MARKER...: judges run NAME
# from its section of an L1 CONSOLE (kept in $out/NAME.out) and prints its
# nested_report line. NOT_STARTED: the reason if that L1 never started (empty if
# it did); NOTE: added to the "never started" and "ember exited" reasons (say,
# " (L1 had no /dev/kvm)"); MARKERs: what the guest must print besides
# L2-CPUS=WANT_CPUS. Uses the caller's out and run_timeout, and its judge_checks if
# set: a command (say, "nested_mmds_checks V2") that runs with the section's file as
# its last argument, once the run has ended, and may add to reasons. 1 on FAIL.
# shellcheck disable=SC2154 # (out, run_timeout: the caller's)
nested_judge() {
	local name=$1 cur=$2 not_started=$3 note=$4 want=$5 sect res cpus lasterr rc secs='' apifail what m
	local reasons=()
	shift 5
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
		reasons+=("never started: L1 ended or timed out before it$note")
	elif [ -z "$res" ]; then
		reasons+=("no result: L1 ended during the run: ${l1_end:-how, unknown}")
	else
		rc=$(sed -n 's/.* rc=\([0-9]*\) .*/\1/p' <<<"$res")
		secs=$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$res")
		apifail=$(sed -n "s/^NESTED-APIFAIL $name //p" "$sect" | head -n 1)
		if [ -n "$apifail" ]; then
			reasons+=("API request $apifail failed: $(grep -a "^NESTED-API $name: " "$sect" |
				grep -a -v "^NESTED-API $name: > " | tail -n 1 | sed "s/^NESTED-API $name: //")")
		fi
		if grep -q ' timeout=1' <<<"$res"; then
			reasons+=("timed out after ${run_timeout}s in L1, ember killed")
		elif [ "$rc" != 0 ]; then
			reasons+=("ember exited $rc$note")
		fi
		while read -r what; do
			[ -z "$what" ] || reasons+=("L2-FAIL $what")
		done < <(sed -n 's/.*L2-FAIL //p' "$sect")
		for m in "$@"; do
			grep -q -a "$m" "$sect" || reasons+=("no $m")
		done
		# shellcheck disable=SC2086 # (a command and its arguments, as words)
		[ -z "${judge_checks:-}" ] || $judge_checks "$sect"
	fi
	nested_report "$name" "$secs" "$cpus" "$want" "$lasterr" ${reasons[@]+"${reasons[@]}"}
}

# nested_classify_stall [-v] [--no-nmi] [--vmm NAME] CONSOLE: tells a stall of
# the test bed from a failure of the VMM, from the saved console of one nested
# run (its section of an L1 console: the L2's output, L1 kernel lines, and the
# NESTED-* lines of the L1 runner). Prints "stall: <reason>" (exit 0) or
# "failure" (exit 1; with -v the why goes to stderr); 2 on a usage error.
# A stall (on this host L1's nested virtualization can stop one of the L2's
# vCPUs for good, TESTBED.md) is one of:
#   - an L2 RCU stall report naming CPU Y, "Sending NMI from CPU X to CPUs Y:"
#     after it, and never "NMI backtrace for cpu Y": the CPU no longer runs at
#     all. (A CPU spinning with interrupts off still answers the NMI: that is
#     a failure.) --no-nmi: the guest's backtrace request is an IPI, not an
#     NMI (arm64, riscv64), so no answer proves nothing; this rule is off.
#   - an L2 "BUG: workqueue lockup - pool cpus=Y ..." with no backtrace of Y;
#   - an L1 soft lockup in the VMM's thread ("[NAME:pid]", NAME = --vmm, by
#     default ember) while the L2 stays unfinished;
#   - L1's kernel hitting a stack guard page in exc_page_fault in the VMM's
#     thread ("Comm: NAME..."), and the panic that follows it (seen once, in
#     the fleet run's two concurrent L2s: L1's own kernel, not ember's guest).
# and, in every case, none of: a kernel panic or oops (L1 or L2; but that one), a line the
# VMM wrote on stderr (NESTED-STDERR) other than an INFO/DEBUG one, a VMM
# that ended by itself (NESTED-RESULT with timeout=0; a stalled guest never
# ends, the run's watchdog kills it), a failed API request, an L2-...FAIL...
# line, or L2-MARKER-OK (the guest finished). Anything else is a failure.
nested_classify_stall() {
	local verbose=0 nmi=1 vmm=ember
	while [ $# -gt 1 ]; do
		case $1 in
		-v) verbose=1 ;;
		--no-nmi) nmi=0 ;;
		--vmm)
			vmm=$2
			shift
			;;
		*) break ;;
		esac
		shift
	done
	if [ $# -ne 1 ] || [ ! -r "$1" ]; then
		echo "usage: nested_classify_stall [-v] [--no-nmi] [--vmm NAME] CONSOLE (a readable file)" >&2
		return 2
	fi
	awk -v nmi="$nmi" -v vmm="$vmm" -v verbose="$verbose" '
	function failure(why) {
		if (verbose)
			print "classify: failure: " why >"/dev/stderr"
		print "failure"
		exit 1
	}
	function stall(why) {
		print "stall: " why
		exit 0
	}
	# cpulist(LIST, SET): adds the CPUs of a Linux CPU list ("0", "0-1,3") to SET.
	function cpulist(list, set, parts, range, i, k, c, hi) {
		k = split(list, parts, ",")
		for (i = 1; i <= k; i++) {
			if (split(parts[i], range, "-") == 2) {
				c = range[1] + 0
				hi = range[2] + 0
			} else
				c = hi = parts[i] + 0
			for (; c <= hi; c++)
				set[c] = 1
		}
	}
	# The number after the text matched by PREFIX_RE in S (-1 if none).
	function num_after(s, prefix_re, t) {
		if (!match(s, prefix_re "[0-9]+"))
			return -1
		t = substr(s, RSTART, RLENGTH)
		sub(prefix_re, "", t)
		return t + 0
	}
	{
		sub(/\r$/, "")
		line[++n] = $0
	}
	END {
		# 0. L1 itself (QEMU TCG, nested SVM) overflowing a kernel stack in page-fault
		# handling while it runs the VMM'"'"'s thread: "Comm: <vmm>..." names L1'"'"'s task, so
		# this is not the L2 kernel, and no user program can do it to L1 unless L1'"'"'s
		# kernel is broken. It ends L1 with a panic, which rule 1 then leaves to it.
		l1_fault = 0
		for (i = 1; i <= n && !l1_fault; i++)
			if (line[i] ~ /BUG: TASK stack guard page was hit/)
				for (j = i + 1; j <= n && j <= i + 4; j++)
					if (index(line[j], " Comm: " vmm) && line[j + 2] ~ /RIP: [0-9a-f]+:exc_page_fault/)
						l1_fault = i
		# 1. What is a failure whatever else the console shows.
		for (i = 1; i <= n; i++) {
			l = line[i]
			if (l ~ /Kernel panic - not syncing/ && !(l1_fault && i > l1_fault))
				failure("a kernel panic: " l)
			if (l ~ /Oops: |BUG: unable to handle|BUG: kernel NULL pointer|general protection fault|kernel BUG at /)
				failure("a kernel oops: " l)
			if (l ~ /^NESTED-STDERR [^ ]+: ./) {
				m = l
				sub(/^NESTED-STDERR [^ ]+: /, "", m)
				if (m !~ /^[a-z0-9_-]+: (INFO|DEBUG): /)
					failure("the VMM wrote: " m)
			}
			if (l ~ /^NESTED-RESULT / && l !~ / timeout=1( |$)/)
				failure("the VMM ended by itself: " l)
			if (l ~ /^NESTED-APIFAIL /)
				failure("an API request failed: " l)
			if (l ~ /L2-[A-Z0-9-]* ?FAIL/)
				failure("the guest reported a failed check: " l)
			if (l ~ /L2-MARKER-OK/)
				failure("the guest finished its checks")
		}
		# 2. The L2 CPUs that answered an NMI: they still ran.
		for (i = 1; i <= n; i++)
			if ((c = num_after(line[i], "NMI backtrace for cpu ")) >= 0)
				answered[c] = 1
		# 3. RCU stall reports, and the NMIs they sent to the CPUs they name.
		hdr = 0
		maxcpu = -1
		for (i = 1; i <= n; i++) {
			l = line[i]
			if (l ~ /rcu: INFO: rcu_[a-z_]+ detected (expedited )?stalls on CPUs\/tasks/) {
				hdr = i
				continue
			}
			if (!match(l, /Sending NMI from CPU [0-9]+ to CPUs [0-9,-]+:/))
				continue
			# An NMI of this report (its GP-kthread part is some 30 lines on).
			if (!hdr || i - hdr > 100)
				continue
			s = substr(l, RSTART, RLENGTH)
			from = num_after(s, "from CPU ")
			to = s
			sub(/.* to CPUs /, "", to)
			sub(/:$/, "", to)
			split("", tgt)
			cpulist(to, tgt)
			for (c in tgt) {
				# The report lists it as "<cpu>-....: (...)" ("{ <cpu>-... }" if expedited).
				re = "(^|[^0-9])" c "-[O.][o.][N.][.!?0-9D]"
				for (j = hdr; j < i; j++)
					if (line[j] ~ re)
						break
				if (j == i)
					continue
				stalled[c] = 1
				by[c] = from
				if (c + 0 > maxcpu)
					maxcpu = c + 0
			}
		}
		for (c in stalled)
			if (answered[c])
				failure("L2 CPU " c " answered the NMI: it ran (with interrupts off?)")
		# 4. The stall signatures.
		if (nmi && maxcpu >= 0) {
			list = ""
			for (c = 0; c <= maxcpu; c++)
				if (c in stalled) {
					list = list (list == "" ? "" : ",") c
					from = by[c]
				}
			stall("L2 CPU " list " stalled, no answer to the NMI from CPU " from)
		}
		for (i = 1; i <= n; i++) {
			c = num_after(line[i], "BUG: workqueue lockup - pool cpus=")
			if (c < 0 || substr(line[i], RSTART + RLENGTH, 1) != " ")
				continue
			if (c in answered)
				failure("L2 CPU " c " (workqueue lockup) answered an NMI: it ran")
			secs = num_after(line[i], " stuck for ")
			stall("L2 workqueue lockup on CPU " c " (stuck for " secs "s)")
		}
		for (i = 1; i <= n; i++) {
			l = line[i]
			if (l !~ /BUG: soft lockup - CPU#[0-9]+ stuck for [0-9]+s! \[/ || !index(l, "[" vmm ":"))
				continue
			stall("L1 soft lockup in " vmm " (CPU#" num_after(l, "CPU#") " stuck for " \
				num_after(l, " stuck for ") "s)")
		}
		if (l1_fault)
			stall("L1 kernel stack overflow in page-fault handling, in " vmm "'"'"'s thread")
		failure("no test-bed stall signature")
	}' "$1"
}

# nested_runs BOOT JUDGE NAME...: does the runs NAME... in a fresh L1 and prints
# each one's result line. A run that fails with the signature of a test-bed
# stall (nested_classify_stall on $out/NAME.out, with the caller's $stall_opts)
# is done ONCE more, in another fresh L1, after the others; the output says
#   REDO: nested/NAME (test-bed stall: <reason>)
# and its line is that of the second try, whose FAIL line ends with
# "; stalled twice, test-bed stall: <reason>" if it stalls again. Runs that never
# started because the L1 of a stalled run ended during it go to that new L1
# too. Any other failure is final: never retried.
#   BOOT NAME...: boots an L1 (nested_boot_l1) that does those runs, in order,
#     and leaves its console in $cur (and whatever JUDGE reads).
#   JUDGE NAME: prints NAME's PASS/FAIL line (nested_report) from $cur, with its
#     section in $out/NAME.out; 1 on FAIL.
# Uses the caller's out, cur, log and stall_opts. 1 if any run failed in the end.
# shellcheck disable=SC2154 # (out, cur, log: the caller's)
nested_runs() {
	local boot=$1 judge=$2 round name line verdict why failed=0 stalled_in
	shift 2
	local todo=("$@") redo=()
	local -A stalled=()
	for round in 1 2; do
		[ ${#todo[@]} -gt 0 ] || break
		"$boot" "${todo[@]}"
		redo=()
		stalled_in=
		for name in "${todo[@]}"; do
			if line=$("$judge" "$name"); then
				echo "$line"
				continue
			fi
			# shellcheck disable=SC2086 # (options, as words)
			verdict=$(nested_classify_stall ${stall_opts:-} "$out/$name.out" 2>/dev/null) || true
			why=${verdict#stall: }
			[ "$why" != "$verdict" ] || why=
			if [ "$round" = 1 ] && [ -n "$why" ]; then
				echo "REDO: nested/$name (test-bed stall: $why)"
				echo "=== $name: test-bed stall ($why); again in a new L1 ===" >>"$log"
				cp "$out/$name.out" "$out/$name.stall.out"
				stalled[$name]=1
				stalled_in=$name
				redo+=("$name")
				continue
			fi
			if [ "$round" = 1 ] && [ -n "$stalled_in" ] && [ ! -s "$out/$name.out" ] &&
				! grep -q -a '^NESTED-DONE' "$cur"; then
				echo "nested: $name never started (its L1 ended after $stalled_in stalled); it goes to the new L1 too"
				redo+=("$name")
				continue
			fi
			if [ -n "$why" ]; then
				if [ -n "${stalled[$name]:-}" ]; then
					line="${line%)}; stalled twice, test-bed stall: $why)"
				else
					line="${line%)}; test-bed stall: $why)"
				fi
			fi
			echo "$line"
			failed=1
		done
		todo=(${redo[@]+"${redo[@]}"})
	done
	return $failed
}
