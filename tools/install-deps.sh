#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Install what kafkatap needs on Debian 12, only what is missing.
# Build: clang, bpftool, libbpf, libelf, zlib, libpcap, libmicrohttpd, ncurses;
# libclang-rt-14-dev (only a Recommends of clang) for the fuzzers and sanitizers.
# Tests and demo: cmocka, librdkafka (its mock cluster is the broker), kcat,
# kafka-python, confluent-kafka, tshark, prometheus, socat, nftables, tmux,
# and kafkajs from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libpcap-dev
      libmicrohttpd-dev libncurses-dev pkg-config iproute2
      libcmocka-dev librdkafka-dev kcat python3 python3-kafka
      python3-confluent-kafka python3-yaml tshark prometheus socat nftables tmux procps
      curl bc libclang-rt-14-dev)
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing Debian packages: ${missing[*]}" >&2
		echo "install-deps: run as root (sudo make ...) or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# kafkajs, a test client, from npm (pinned by tests/clients/package-lock.json).
if [ -f tests/clients/package.json ] && [ ! -d tests/clients/node_modules/kafkajs ]; then
	echo "install-deps: npm ci in tests/clients"
	(cd tests/clients && npm ci --no-audit --no-fund --silent)
fi
exit 0
