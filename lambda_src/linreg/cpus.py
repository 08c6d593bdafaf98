"""How many CPUs this process can really use: the cores it may run on, capped by its
cgroup's CPU quota.

Lambda gives a function one vCPU per 1,769 MB, up to six at 10,240 MB, as the cores of
its microVM: ``os.cpu_count()`` and the affinity mask show them. A container limited with
``--cpus`` (Docker, and the image tests here) still shows every core of the host; only
its cgroup's quota (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` in v1) says that
1.16 CPUs is one and a bit. Threads beyond the quota only take turns.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def available(*, cgroup: Path = CGROUP) -> int:
    """The CPUs this process may use at once, rounded up (1.16 CPUs is two threads'
    worth of work, one of them often waiting); at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = cores or os.cpu_count() or 1
    quota = cgroup_quota(cgroup)
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def seen(*, cgroup: Path = CGROUP) -> dict[str, float | int | None]:
    """What the process is told about its CPUs, as the function logs it at a cold start:
    what Lambda (or a container) really gives is then in the logs."""
    return {
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cgroup_quota": cgroup_quota(cgroup),
        "available": available(cgroup=cgroup),
    }


def cgroup_quota(cgroup: Path = CGROUP) -> float | None:
    """The cgroup's CPU quota in CPUs (``None``: no quota, or no cgroup to read)."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]  # v2: "max 100000"
    except (OSError, ValueError):
        try:  # v1
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        if quota == "max" or int(quota) <= 0:
            return None
        return int(quota) / int(period)
    except ValueError:
        return None
