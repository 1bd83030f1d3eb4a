# Helpers shared by the nested-tier scripts of every architecture (x86_64/,
# aarch64/); sourced, not run.
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
# stderr kept in /tmp/NAME.err), "finish" (waits, SIGTERM after TIMEOUT s,
# SIGKILL 5 s later; prints stderr, any /tmp/NAME.api, and "NESTED-RESULT NAME
# rc=.. secs=.. timeout=0|1"), and "run NAME ARGS..." (both).
nested_l1_runner() {
	local run_timeout=$1
	cat <<EOS
now() { cut -d' ' -f1 /proc/uptime; }
# start NAME ARGS...: ember in the background, its guest's console on ours,
# with a watchdog that sends SIGTERM after $run_timeout s and SIGKILL 5 s later.
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
	(
		sleep $run_timeout
		kill -0 \$pid 2>/dev/null || exit 0
		: >/tmp/\$name.timedout
		kill \$pid
		sleep 5
		kill -9 \$pid 2>/dev/null
	) &
	wd=\$!
}
# finish: wait for ember, stop its watchdog, print the result.
finish() {
	wait \$pid
	rc=\$?
	t1=\$(now)
	kill \$wd 2>/dev/null
	to=0
	[ ! -e /tmp/\$name.timedout ] || to=1
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

# nested_watch_l1 QPID CONSOLE SECS: waits for the L1 QEMU (QPID, the
# run-l1.sh that execs timeout(1)) to end. If its CONSOLE file does not grow
# for SECS seconds, L1's own kernel has stopped: each run inside L1 is bounded
# by the /run.sh watchdog, which prints a result line well before that. Then
# QEMU is stopped, the run that was going is printed, and it returns 1.
nested_watch_l1() {
	local qpid=$1 console=$2 secs=$3 size last=-1 silent=0
	while kill -0 "$qpid" 2>/dev/null; do
		size=$(stat -c %s "$console" 2>/dev/null || echo 0)
		if [ "$size" != "$last" ]; then
			last=$size
			silent=0
		elif [ $((silent += 1)) -ge "$secs" ]; then
			pkill -TERM -P "$qpid" 2>/dev/null || true
			kill "$qpid" 2>/dev/null || true
			grep -a 'NESTED-BEGIN' "$console" | tail -n 1 | sed 's/^NESTED-BEGIN //'
			return 1
		fi
		sleep 1
	done
	return 0
}

# nested_boot_l1 LABEL CONSOLE TOTAL_S CMD...: boots an L1 with CMD (a run-l1.sh
# that execs timeout(1) with QEMU; TOTAL_S its time limit, for reference), its
# console in the file CONSOLE (carriage returns removed at the end). Boots again
# only an L1 that never printed L1-STARTED within $start_timeout s, or whose
# console then stayed silent for $freeze_secs s (L1 itself stopped: every run
# again), $tries boots in all, and says so. The caller's globals: log (each
# try's console is appended), start_timeout, freeze_secs, tries; l1_pids is set
# while QEMU runs (for the caller's cleanup trap); status=1 when a stopped L1
# has no boot left ("FAIL: nested/<CONSOLE's name>"). Returns 1 if L1 never
# started. VERBOSE=1 streams the console.
# shellcheck disable=SC2154,SC2034 # (log, tries, start_timeout, freeze_secs, l1_pids, status: the caller's)
nested_boot_l1() {
	local label=$1 cur=$2 try t0 qpid tailpid='' rc late frozen='' frozen_in
	shift 3
	for try in $(seq 1 "$tries"); do
		[ "$try" -eq 1 ] || [ -n "$frozen" ] ||
			echo "nested: L1 ($label) did not start, retry $try/$tries"
		echo "=== L1 ($label) boot, try $try/$tries, $(date -u +%FT%TZ) ===" >>"$log"
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
			echo "=== L1 ($label) reached /init after $(($(date +%s) - t0))s ===" >>"$log"
			frozen_in=$(nested_watch_l1 "$qpid" "$cur" "$freeze_secs") ||
				frozen="L1 ($label) stopped during ${frozen_in:-its start} (its console silent for ${freeze_secs}s)"
		fi
		rc=0
		wait "$qpid" || rc=$?
		[ -z "$tailpid" ] || kill "$tailpid" 2>/dev/null || true
		l1_pids=
		tr -d '\r' <"$cur" >"$cur.tmp" && mv "$cur.tmp" "$cur"
		cat "$cur" >>"$log"
		[ -z "$late" ] || echo "$late" >>"$log"
		echo "=== L1 ($label) ended: status $rc after $(($(date +%s) - t0))s ===" >>"$log"
		grep -q -a 'L1-STARTED' "$cur" || continue
		if [ -z "$frozen" ]; then
			[ "$try" -eq 1 ] || echo "nested: L1 ($label) started on try $try/$tries"
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

# nested_judge NAME CONSOLE NOT_STARTED NOTE WANT_CPUS MARKER...: judges run NAME
# from its section of an L1 CONSOLE (kept in $out/NAME.out) and prints its
# nested_report line. NOT_STARTED: the reason if that L1 never started (empty if
# it did); NOTE: added to the "never started" and "ember exited" reasons (say,
# " (L1 had no /dev/kvm)"); MARKERs: what the guest must print besides
# L2-CPUS=WANT_CPUS. Uses the caller's out and run_timeout. 1 on FAIL.
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
	if [ -n "$not_started" ]; then
		reasons+=("$not_started")
	elif [ ! -s "$sect" ]; then
		reasons+=("never started: L1 ended or timed out before it$note")
	elif [ -z "$res" ]; then
		reasons+=("no result: L1 ended or timed out during the run")
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
	fi
	nested_report "$name" "$secs" "$cpus" "$want" "$lasterr" ${reasons[@]+"${reasons[@]}"}
}
