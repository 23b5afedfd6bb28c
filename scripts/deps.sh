#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs the Debian 12 packages latebind's build, tests, demo and benchmarks use,
# only those missing, so it is cheap to run before every `make test`.
set -euo pipefail

PACKAGES=(
	# build
	make gcc clang llvm pkg-config libbpf-dev libxdp-dev libelf-dev zlib1g-dev
	libyaml-dev bpftool
	# tests
	check iproute2 ethtool nginx-light curl procps psmisc xdp-tools
	bird2 # BGP between the lab's router and balancers (tests/lab/cluster.sh)
	prometheus # promtool check metrics, and a real server scraping the exporter
	chromium # a real browser through the VIP (tests/lab/test_keepalive.sh)
	libclang-rt-14-dev # libFuzzer and the sanitizers' runtimes (make fuzz, the fuzz layer)
	# benchmarks and hostile-traffic tests
	wrk haproxy hping3
)

missing=()
for p in "${PACKAGES[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi
if ((EUID != 0)); then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps Debian from starting nginx/haproxy on the host: the lab runs
# its own instances inside network namespaces.
had_policy=0
[[ -e /usr/sbin/policy-rc.d ]] && had_policy=1
if ((!had_policy)); then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
fi
trap '((had_policy)) || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
