#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The lab test runner (tests/run.sh lab): brings the lab up, runs every
# tests/lab/test_*.sh in order, each in a fresh bash with lib.sh loaded and a
# time limit, always takes the lab down (also on failure or interrupt), checks
# that nothing was left behind, and ends with "lab: N passed, N failed".
#
# A full run (no LAB_TESTS, no LB_LAB_HANDOFF) is three passes, each on a fresh
# lab: every test with cookie-mode backends (but the replay-only ones, spoof),
# then the hand-off-centred tests
# again with every backend in replay mode, and with the modes mixed. Checks of
# the later passes are named "replay: ..." and "mixed: ...".
#
# env: LAB_TESTS="topology ..."  run only test_topology.sh ... (in that order),
#                                in one pass
#      LB_LAB_HANDOFF=MODE       one pass with the backends in MODE: cookie,
#                                replay or mixed (lib.sh)
#      LAB_REPLAY_TESTS="handoff keepalive lossy lossy_rebind spoof cluster redirect_mode local",
#      LAB_MIXED_TESTS="handoff keepalive lossy_rebind": the tests of the replay and mixed
#                                passes of a full run
#      LAB_TEST_TIMEOUT=120      seconds per test file (a file that needs more says
#                                so in a line `# lab-timeout: N`, N up to 600)
#      LB_LAB_PREFIX=lbl         namespace prefix (lets labs run side by side)
#      LAB_KEEP_LOGS=/tmp/latebind-lab-failed  where a failed test's balancer
#                                logs are kept (the run dir goes with the lab)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_TEST_TIMEOUT=${LAB_TEST_TIMEOUT:-120}
LAB_KEEP_LOGS=${LAB_KEEP_LOGS:-/tmp/latebind-lab-failed}
LAB_RESULTS=$(mktemp /tmp/latebind-lab-results.XXXXXX)
export LAB_RESULTS
# lab.sh up refuses to take over a lab whose owner is alive; we are its owner.
export LAB_OWNER_PID=$$

lab_started=0
test_pid=

# What must be gone after `down`: namespaces, processes, mounts, the run dir.
leftovers() {
	local pid
	ip netns list | awk -v p="$LAB_PREFIX-" 'index($1, p) == 1 { print "namespace " $1 }'
	for pid in "${lab_pids_seen[@]}"; do
		if pid_alive "$pid"; then echo "process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline")"; fi
	done
	for pid in $(pgrep -f -- "$LAB_RUN/" || true); do
		echo "process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
	awk -v r="$LAB_RUN/" 'index($5, r) == 1 { print "mount " $5 }' /proc/self/mountinfo
	if [[ -e $LAB_RUN ]]; then echo "run dir $LAB_RUN"; fi
}

# lab_teardown: take this pass's lab down and prove nothing is left.
lab_teardown() {
	local out
	((lab_started)) || return 0
	lab_started=0
	# Every process of the lab, to prove afterwards that each one is gone.
	mapfile -t lab_pids_seen < <(for ns in $(ip netns list | awk '{ print $1 }'); do
		[[ $ns == "$LAB_PREFIX"-* ]] && ip netns pids "$ns"
	done 2>/dev/null)
	if ! timeout --foreground -k 5 60 "$LAB_DIR/lab.sh" down; then
		lab_fail "lab down" "lab.sh down failed"
	fi
	out=$(leftovers)
	if [[ -z $out ]]; then
		lab_pass "teardown: no namespace, process, mount or run dir left"
	else
		lab_fail "teardown: no namespace, process, mount or run dir left" "left behind" "$out"
	fi
}

finish() {
	local rc=$? passed failed
	trap - EXIT INT TERM
	if [[ -n $test_pid ]]; then
		# timeout(1) passes SIGTERM on to the test's process group and sends
		# SIGKILL 5 s later, so this wait is bounded.
		kill -TERM "$test_pid" 2>/dev/null || true
		wait "$test_pid" 2>/dev/null || true
	fi
	lab_teardown
	if ((rc != 0)) && ! grep -q '^FAIL' "$LAB_RESULTS"; then
		lab_fail "lab runner" "interrupted or failed (exit $rc)"
	fi
	passed=$(grep -c '^ok' "$LAB_RESULTS" || true)
	failed=$(grep -c '^FAIL' "$LAB_RESULTS" || true)
	rm -f "$LAB_RESULTS"
	echo "lab: $passed passed, $failed failed"
	((failed == 0)) || exit 1
	exit 0
}
lab_pids_seen=()
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# test_timeout FILE: LAB_TEST_TIMEOUT, or the file's own `# lab-timeout: N` if
# that is longer (at most 600 s).
test_timeout() {
	local own
	own=$(sed -n 's/^# lab-timeout: \([0-9]\{1,3\}\)$/\1/p' "$1" | head -n 1)
	if [[ -n $own ]] && ((own > LAB_TEST_TIMEOUT && own <= 600)); then
		echo "$own"
	else
		echo "$LAB_TEST_TIMEOUT"
	fi
}

# run_test FILE: one test file in a fresh bash with lib.sh, time-limited.
run_test() {
	local file=$1 name before after rc=0 t0=$SECONDS limit
	name=$(basename "$file" .sh)
	limit=$(test_timeout "$file")
	echo "# ${LAB_RESULT_PREFIX:-}$name"
	before=$(wc -l <"$LAB_RESULTS")
	# shellcheck disable=SC2016 # expanded by the inner bash
	LAB_TEST_NAME=${name#test_} timeout -k 5 "$limit" bash -c 'set -uo pipefail; cd "$3"; source "$1"; source "$2"' \
		"$name" "$LAB_DIR/lib.sh" "$file" "$LAB_ROOT" </dev/null &
	test_pid=$!
	wait "$test_pid" || rc=$?
	test_pid=
	after=$(wc -l <"$LAB_RESULTS")
	if ((rc == 124)); then
		lab_fail "$name" "timed out after $limit s"
	elif ((rc != 0)); then
		lab_fail "$name" "exited $rc"
	elif ((after == before)); then
		lab_fail "$name" "ran no checks"
	fi
	if tail -n +"$((before + 1))" "$LAB_RESULTS" | grep -q '^FAIL'; then
		keep_logs "${LAB_RESULT_PREFIX:-}$name"
	fi
	reap_connections "${LAB_RESULT_PREFIX:-}$name"
	echo "# ${LAB_RESULT_PREFIX:-}$name took $((SECONDS - t0)) s"
}

# reap_connections NAME: what test NAME left open is given 3 s to close, then
# named here and destroyed (ss -K). The next test starts on a quiet lab: a
# leftover's late segments (a backend's FIN retransmitted for minutes, the
# client's answer to it) would land in that test's counters.
reap_connections() {
	local n i left
	for ((i = 0; i < 30; i++)); do
		# shellcheck disable=SC2119 # every client and backend
		left=$(lab_open_connections)
		[[ -z $left ]] && return 0
		sleep 0.1
	done
	echo "# $1 left $(wc -l <<<"$left") connection(s) open; closed now:"
	sed 's/^/#   /' <<<"$left"
	for n in "${LAB_CLIENTS[@]}" "${LAB_WEBS[@]}"; do
		lab_site_sockets "$n" -K >/dev/null 2>&1 || true
	done
	# shellcheck disable=SC2119
	left=$(lab_open_connections)
	if [[ -n $left ]]; then
		echo "# ... still open after ss -K:"
		sed 's/^/#   /' <<<"$left"
	fi
}

# keep_logs NAME: the balancer logs of a test that failed, kept past the
# teardown (which removes the run dir) in $LAB_KEEP_LOGS. A test without one
# (topology) keeps nothing, and the run goes on.
keep_logs() {
	local dir
	dir=$LAB_KEEP_LOGS/$LAB_PREFIX-${1//[^A-Za-z0-9_-]/_}-$(date +%Y%m%dT%H%M%S)
	if compgen -G "$LAB_RUN/balancer*.log" >/dev/null && mkdir -p "$dir" &&
		cp "$LAB_RUN"/balancer*.log "$dir"/; then
		echo "# $1: the balancer's log kept in $dir"
	fi
}

if ((EUID != 0)); then
	echo "lab: must run as root: the lab creates network namespaces and loads XDP programs" >&2
	lab_fail "lab: run as root" "running as uid $EUID"
	exit 1
fi
missing=()
for t in ip nginx curl ethtool sha256sum mountpoint timeout; do
	command -v "$t" >/dev/null || missing+=("$t")
done
if ((${#missing[@]})); then
	lab_fail "lab: tools installed" "missing ${missing[*]} (make deps)"
	exit 1
fi
if [[ ! -f $LAB_XDP_PASS ]]; then
	lab_fail "lab: $LAB_XDP_PASS built" "missing (run make)"
	exit 1
fi

# Tests that need web1 in replay mode: left out of a cookie pass of every test
# (a cookie lab has nothing for them to test), run by the replay and mixed passes.
LAB_REPLAY_ONLY=(spoof)

# test_files NAME...: the test files, or all of them if no name is given, the
# topology self-check first (every other test relies on the lab it proves).
test_files() {
	local t name
	if (($#)); then
		for t; do
			if [[ -f $LAB_DIR/test_$t.sh ]]; then
				echo "$LAB_DIR/test_$t.sh"
			else
				# stderr: stdout is the list of files
				lab_fail "lab: test $t" "no $LAB_DIR/test_$t.sh" >&2
			fi
		done
	else
		echo "$LAB_DIR/test_topology.sh"
		for t in "$LAB_DIR"/test_*.sh; do
			name=${t##*/test_}
			name=${name%.sh}
			[[ $name == topology ]] && continue
			[[ $LAB_HANDOFF_MODE == cookie && " ${LAB_REPLAY_ONLY[*]} " == *" $name "* ]] && continue
			echo "$t"
		done
	fi
}

# lab_up: a fresh lab for a pass (fails the run if it cannot come up).
lab_up() {
	local rc=0 t0=$SECONDS
	lab_started=1
	timeout --foreground -k 5 120 "$LAB_DIR/lab.sh" up || rc=$?
	if ((rc == 75)); then
		lab_started=0 # somebody else's lab: leave it alone
		lab_fail "lab up" "the $LAB_PREFIX lab is in use (set LB_LAB_PREFIX to run another one)"
		exit 1
	elif ((rc != 0)); then
		lab_fail "lab up" "lab.sh up failed (exit $rc)"
		exit 1
	fi
	lab_pass "lab up ($((SECONDS - t0)) s)"
}

# run_pass MODE TEST-NAME...: a fresh lab, the tests with the backends in MODE
# (all of them if no name is given), the lab taken down again.
run_pass() {
	local mode=$1 t files t0=$SECONDS
	shift
	export LB_LAB_HANDOFF=$mode LAB_HANDOFF_MODE=$mode
	if [[ $mode == cookie ]]; then
		export LAB_RESULT_PREFIX=
	else
		export LAB_RESULT_PREFIX="$mode: "
	fi
	mapfile -t files < <(test_files "$@")
	echo "# === pass: $mode-mode hand-offs (${*:-every test}) ==="
	lab_up
	for t in "${files[@]}"; do
		run_test "$t"
	done
	echo "# ${LAB_RESULT_PREFIX}tests took $((SECONDS - t0)) s"
	lab_teardown
}

lab_handoff_valid "$LAB_HANDOFF_MODE" || {
	lab_fail "lab: LB_LAB_HANDOFF" "'$LAB_HANDOFF_MODE' is none of cookie, replay, mixed"
	exit 1
}
# shellcheck disable=SC2086 # lists of test names
if [[ -n ${LB_LAB_HANDOFF:-} || -n ${LAB_TESTS:-} ]]; then
	run_pass "$LAB_HANDOFF_MODE" ${LAB_TESTS:-}
else
	run_pass cookie
	run_pass replay ${LAB_REPLAY_TESTS:-handoff keepalive lossy lossy_rebind spoof cluster redirect_mode local}
	run_pass mixed ${LAB_MIXED_TESTS:-handoff keepalive lossy_rebind}
fi
