-- SPDX-License-Identifier: GPL-2.0
-- wrk script for bench/http.sh: at the end, one line of key=value fields with
-- exact counts (wrk's own summary rounds bytes to MB) and latency percentiles
-- in microseconds. wrk's latency is from writing a request to reading its
-- whole response; a new connection's handshake is not in it.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"requests=%d bytes=%d duration_us=%d connect_err=%d read_err=%d write_err=%d " ..
		"status_err=%d timeout_err=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
		summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
		e.status, e.timeout, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max, latency.mean))
end
