# SPDX-License-Identifier: Apache-2.0
"""The logger and the metrics never block ember: a FIFO nobody drains fills up, and the
lines it cannot take are counted (logger.missed_log_count, missed_metrics_count) while the
API keeps answering and the guest keeps running."""
import json
import os
import time

import embervm


def test_full_log_fifo_counts_lost_lines(spawn, scratch):
    vm = spawn(["--level", "debug"])
    api = vm.api
    fifo = os.path.join(scratch, "log.fifo")
    os.mkfifo(fifo)
    metrics = os.path.join(scratch, "metrics.json")
    api.ok("PUT", "/logger", {"log_path": fifo, "level": "Debug", "show_level": True,
                              "show_log_origin": True})
    api.ok("PUT", "/metrics", {"metrics_path": metrics})
    embervm.configure_ticker(api)
    embervm.start(vm)
    # Every refused request logs a line; 64 KiB of pipe fills long before 3000 of them.
    t0 = time.monotonic()
    for i in range(3000):
        api.fault("GET", "/no/such/path/%d/%s" % (i, "x" * 40))
    took = time.monotonic() - t0
    assert took < 60, "3000 requests took %.1f s: the logger blocked?" % took
    api.ok("PUT", "/actions", {"action_type": "FlushMetrics"})
    with open(metrics) as f:
        line = json.loads(f.readlines()[-1])
    assert line["logger"]["missed_log_count"] > 0, line["logger"]
    assert api.ok("GET", "/")["state"] == "Running"
    vm.wait_ticks(2)


def test_full_metrics_fifo_counts_lost_lines(spawn, scratch):
    vm = spawn()
    api = vm.api
    fifo = os.path.join(scratch, "metrics.fifo")
    os.mkfifo(fifo)
    api.ok("PUT", "/metrics", {"metrics_path": fifo})
    embervm.configure_ticker(api)
    embervm.start(vm)
    # Each line is ~1.5 KiB: the pipe is full after a few dozen; later flushes fail, fast.
    refused = 0
    for _ in range(200):
        r = api.request("PUT", "/actions", {"action_type": "FlushMetrics"})
        refused += r.status == 400
    assert refused > 0, "every flush fit in the pipe?"
    assert api.ok("GET", "/")["state"] == "Running"
    # Drain the FIFO: the last line that got in is well-formed JSON.
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    os.close(fd)
    lines = [x for x in data.split(b"\n") if x]
    assert lines and all("utc_timestamp_ms" in json.loads(x) for x in lines)


def test_jailer_start_times_feed_the_startup_metrics(spawn, scratch):
    """--start-time-us and friends, as ember-jailer passes them: the startup metrics count from
    the jailer's start and add its CPU time, as Firecracker's do; a seccomp group is there."""
    started = time.monotonic_ns() // 1000 - 2_000_000  # as if a jailer had started 2 s ago
    vm = spawn(["--start-time-us", str(started), "--start-time-cpu-us", "0",
                "--parent-cpu-time-us", "500000"])
    api = vm.api
    metrics = os.path.join(scratch, "metrics.json")
    api.ok("PUT", "/metrics", {"metrics_path": metrics})
    embervm.configure_ticker(api)
    embervm.start(vm)
    api.ok("PUT", "/actions", {"action_type": "FlushMetrics"})
    with open(metrics) as f:
        line = json.loads(f.readlines()[-1])
    assert line["api_server"]["process_startup_time_us"] >= 2_000_000, line["api_server"]
    assert line["api_server"]["process_startup_time_us"] < 60_000_000, line["api_server"]
    assert line["api_server"]["process_startup_time_cpu_us"] >= 500_000, line["api_server"]
    assert line["seccomp"] == {"num_faults": 0}
