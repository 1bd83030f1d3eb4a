# SPDX-License-Identifier: Apache-2.0
"""Firecracker features ember does not have are refused as not supported, before
and after the start, and never mistaken for a state error or an unknown path."""
import pytest

import embervm
from apiclient import POST_BOOT_ONLY, PRE_BOOT_ONLY

UNSUPPORTED = [
    ("PUT", "/cpu-config", {"cpuid_modifiers": [], "msr_modifiers": []}),
    ("PUT", "/pmem/pm0", {"id": "pm0", "path_on_host": "/dev/null"}),
    ("PATCH", "/pmem/pm0", {"id": "pm0"}),
    ("PUT", "/serial", {"serial_out_path": "/tmp/ea-serial"}),
    ("PUT", "/hotplug/memory", {"total_size_mib": 1024}),
    ("PATCH", "/hotplug/memory", {"requested_size_mib": 0}),
    ("GET", "/hotplug/memory", None),
    ("PATCH", "/balloon/hinting/start", {"acknowledge_on_stop": True}),
    ("GET", "/balloon/hinting/status", None),
    ("PATCH", "/balloon/hinting/stop", {}),
]
IDS = ["%s%s" % (m, p.replace("/", "-")) for m, p, _ in UNSUPPORTED]


def check_not_supported(api, method, path, body):
    fault = api.fault(method, path, body)
    assert "not supported" in fault.lower(), fault
    assert fault not in (PRE_BOOT_ONLY, POST_BOOT_ONLY), \
        "a missing feature must not be reported as a state error: " + fault
    assert not fault.startswith("Invalid request method and/or path"), fault


@pytest.mark.parametrize("method,path,body", UNSUPPORTED, ids=IDS)
def test_not_supported_before_start(api, method, path, body):
    check_not_supported(api, method, path, body)
    assert api.ok("GET", "/")["state"] == "Not started"


@pytest.fixture(scope="module")
def started(module_spawn):
    e = module_spawn()
    embervm.configure_ticker(e.api)
    e.api.ok("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False})
    embervm.start(e)
    return e


@pytest.mark.parametrize("method,path,body", UNSUPPORTED, ids=IDS)
def test_not_supported_after_start(started, method, path, body):
    check_not_supported(started.api, method, path, body)
    assert started.api.ok("GET", "/")["state"] == "Running"
