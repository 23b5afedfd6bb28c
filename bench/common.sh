# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by bench/run.sh and bench/xdp.sh: where things are, the lab's helpers
# (tests/lab/lib.sh, balancer.sh) under the bench's own lab prefix, and the
# small functions both use. Source it; it defines, it does nothing else.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export LB_LAB_PREFIX=${LB_LAB_PREFIX:-lbbench}
# shellcheck source=tests/lab/lib.sh
source "$ROOT/tests/lab/lib.sh"
# shellcheck source=tests/lab/balancer.sh
source "$ROOT/tests/lab/balancer.sh"

say() { echo "bench: $*"; }
die() {
	echo "bench: $*" >&2
	exit 1
}

# kv KEY TEXT: the value of KEY=value in a line of key=value fields.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# xdp_prog_id: the id of the XDP program on the balancer's eth0 (none: fails).
xdp_prog_id() {
	ip -n "$BALANCER_NS" -d link show dev "$LAB_IF" |
		awk '$1 == "prog/xdp" && $2 == "id" { print $3; found = 1; exit } END { exit !found }'
}

# median: of the numbers on stdin (empty: nothing).
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread FORMAT: "min / median / max" of the numbers on stdin, each printed with FORMAT.
spread() {
	sort -g | awk -v f="$1" '{ v[NR] = $1 }
		END {
			if (!NR) { print "n/a"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf f " / " f " / " f "\n", v[1], m, v[NR]
		}'
}

# bench_lab_up: the bench's own lab (log in $OUT/lab.log); LAB_IS_UP=1 tells the
# caller's cleanup to take it down. Dies if the lab is someone else's.
# shellcheck disable=SC2034 # LAB_IS_UP is read by the caller's cleanup
bench_lab_up() {
	local rc=0

	say "lab $LB_LAB_PREFIX up (log: $OUT/lab.log)"
	LAB_IS_UP=1
	LAB_OWNER_PID=$$ "$ROOT/tests/lab/lab.sh" up >"$OUT/lab.log" 2>&1 || rc=$?
	if ((rc == 75)); then
		LAB_IS_UP=0 # someone else's: leave it alone
		die "the $LB_LAB_PREFIX lab is in use (another bench run?); set LB_LAB_PREFIX"
	fi
	((rc == 0)) || die "lab.sh up failed: $(tail -n 3 "$OUT/lab.log")"
}
