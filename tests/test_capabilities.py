"""taplab doctor: the probe's answers, their shape, and that code obeys them."""

import argparse
import dataclasses
import json
import os
import subprocess

import pytest

from taplab import capabilities
from taplab.commands import doctor
from taplab.controllers import lambda_sandbox
from taplab.errors import UserError
from tests.conftest import needs, taplab

pytestmark = needs()  # probing tries each feature in a scratch network namespace


def test_doctor_json_has_every_feature_with_reason_and_fallback():
    result = taplab("doctor", "--json")
    assert result.returncode == 0, result.stderr
    features = json.loads(result.stdout)["features"]
    assert set(features) == {spec.name for spec in capabilities.SPECS}
    for name, f in features.items():
        assert isinstance(f["available"], bool), name
        assert f["reason"], name
        if f["available"]:
            assert f["fallback"] is None, name
        else:
            assert f["fix"], f"{name} is unavailable but says no fix"


def test_doctor_prints_a_table_that_wraps_at_80_columns_and_cuts_no_word():
    result = taplab("doctor", env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0
    assert "feature" in result.stdout and "vxlan" in result.stdout
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


@pytest.mark.parametrize(
    "feature,argv",
    [
        ("vxlan", "ip link add p0 type vxlan id 7 dstport 4789"),
        ("gre", "ip link add p0 type gre local 10.1.1.1 remote 10.1.1.2"),
        ("netem", "tc qdisc add dev lo root netem delay 1ms"),
    ],
)
def test_probe_agrees_with_trying_it(feature, argv):
    """The cached answer matches what the kernel does right now."""
    tried = subprocess.run(["unshare", "--net", "sh", "-c", argv], capture_output=True)
    assert capabilities.available(feature) == (tried.returncode == 0)


def test_require_names_the_fix_for_a_missing_feature():
    missing = [f.name for f in capabilities.features().values() if not f.available]
    if not missing:
        pytest.skip("every feature is available on this kernel")
    with pytest.raises(UserError) as err:
        capabilities.require(missing[0])
    message = str(err.value)
    assert "unavailable" in message and capabilities.feature(missing[0]).fix in message


def test_cache_is_used_and_refresh_probes_again():
    before = capabilities.CACHE.stat().st_mtime_ns
    capabilities.features()
    assert capabilities.CACHE.stat().st_mtime_ns == before
    capabilities.features(refresh=True)
    assert capabilities.CACHE.stat().st_mtime_ns > before


def test_doctor_finds_the_lambda_user_that_make_install_creates():
    exists = subprocess.run(["id", "-u", lambda_sandbox.USER], capture_output=True).returncode
    features = json.loads(taplab("doctor", "--json").stdout)["features"]
    assert features["lambda_user"]["available"] == (exists == 0)


def test_doctor_says_how_to_get_a_missing_lambda_user(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lambda_sandbox, "USER", "taplab-no-such-user")
    monkeypatch.setattr(capabilities, "CACHE", tmp_path / "capabilities.json")
    monkeypatch.setenv("COLUMNS", "400")
    assert doctor.run(argparse.Namespace(json=False, refresh=True)) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if "lambda_user" in line]
    assert " no " in row and "taplab-lambda is missing" in row, row
    assert "run `sudo make install` (creates the user and group taplab-lambda)" in row, row
    assert lambda_sandbox.user_problem() == "there is no user taplab-no-such-user"


def test_a_feature_cached_as_missing_is_probed_again_once_it_is_asked_for(tmp_path, monkeypatch):
    """Open vSwitch started after a probe found it stopped: the next lab can use it."""
    cached = {n: dataclasses.asdict(f) for n, f in capabilities.features().items()}
    cached["vxlan"] |= {"available": False, "reason": "stale"}
    cache = tmp_path / "capabilities.json"
    boot = {"boot_id": capabilities._boot_id(), "version": capabilities.PROBE_VERSION}
    cache.write_text(json.dumps(boot | {"features": cached}))
    monkeypatch.setattr(capabilities, "CACHE", cache)
    monkeypatch.setattr(capabilities, "_rechecked", set())
    assert capabilities.available("vxlan")
    assert json.loads(cache.read_text())["features"]["vxlan"]["available"]


@needs("ovs_user")
def test_a_lab_on_open_vswitch_stopped_since_the_probe_says_so_in_one_sentence():
    ovs_ctl = "/usr/share/openvswitch/scripts/ovs-ctl"
    subprocess.run([ovs_ctl, "stop"], check=True, capture_output=True)
    try:
        result = taplab("lab", "cluster", "--switch", "ovs", "--run", "pingall")
    finally:
        subprocess.run([ovs_ctl, "start", "--system-id=random"], check=True, capture_output=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "taplab: Open vSwitch userspace datapath unavailable: Open vSwitch is missing or "
        "not running; run `sudo make install` (installs and starts Open vSwitch)."
    )
    assert "ovs-vsctl" not in result.stderr  # not Mininet's own five lines
    assert capabilities.available("ovs_user")  # and once it runs again, it is used again
