"""linreg.cpus: the CPUs a process can use, from its affinity and its cgroup's quota."""

import os

import pytest

from linreg import cpus


def cgroup_v2(tmp_path, text: str):
    (tmp_path / "cpu.max").write_text(text)
    return tmp_path


def cgroup_v1(tmp_path, quota: str, period: str = "100000"):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(quota)
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text(period)
    return tmp_path


def test_a_quota_of_one_and_a_bit_cpus_is_two(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert cpus.available(cgroup=cgroup_v2(tmp_path, "116000 100000\n")) == 2


def test_the_quota_never_gives_more_than_the_cores(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert cpus.available(cgroup=cgroup_v2(tmp_path, "600000 100000\n")) == 2


def test_no_quota_is_every_core_the_process_may_run_on(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    assert cpus.available(cgroup=cgroup_v2(tmp_path, "max 100000\n")) == 6


def test_cgroup_v1_quotas_are_read_too(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert cpus.available(cgroup=cgroup_v1(tmp_path, "300000")) == 3


def test_a_v1_quota_of_minus_one_is_no_quota(tmp_path):
    assert cpus.cgroup_quota(cgroup_v1(tmp_path, "-1")) is None


@pytest.mark.parametrize("text", ["", "garbage", "0 100000", "abc 100000"])
def test_an_unreadable_quota_is_no_quota(tmp_path, text):
    assert cpus.cgroup_quota(cgroup_v2(tmp_path, text)) is None


def test_this_process_has_at_least_one():
    assert cpus.available() >= 1


def test_the_parse_runs_a_thread_per_cpu_the_process_can_use(monkeypatch):
    from linreg.training.data import loading

    monkeypatch.setattr(cpus, "available", lambda: 3)
    assert loading.default_threads() == 3


def test_the_parse_runs_at_most_as_many_threads_as_lambdas_most_vcpus(monkeypatch):
    from linreg.training.data import loading

    monkeypatch.setattr(cpus, "available", lambda: 64)
    assert loading.default_threads() == 6


def test_what_the_process_is_told_is_reported_for_the_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    seen = cpus.seen(cgroup=cgroup_v2(tmp_path, "116000 100000\n"))
    assert seen["affinity"] == 2 and seen["cgroup_quota"] == 1.16 and seen["available"] == 2
