"""MXNet, imported the one way this project can use it: ``from linreg.training._mxnet import mx``.

mxnet 1.9.1 is the last release. It reaches its library through ctypes, not numpy's C
API, so numpy 2 runs it; but as it loads it reads names that numpy 2 removed and imports
``distutils.version``, which Python 3.12 removed. This module is the one place that knows:
it lends those names for the import only, then takes them back, so numpy and the standard
library stay as they are for everything else in the process. It also chooses the engine
(an environment variable read at import) and starts it quietly.

MXNet loads on first use of ``mx``, ``nd`` or ``autograd`` (PEP 562), so the tables below
can be read, and the tests can take one entry out, before anything is imported.
"""

from __future__ import annotations

import math
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["autograd", "mx", "nd"]
# Bound by _load() on first use.
autograd: Any
mx: Any
nd: Any


def _removed(name: str) -> Callable[..., Any]:
    """What numpy 1.20–1.26 kept under a financial function's name: a stub that refuses."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"numpy.{name} was removed in NumPy 1.20 (see numpy-financial)")

    refuse.__name__ = name
    return refuse


def _msort(a: Any) -> Any:
    return np.sort(a, axis=0)


def _in1d(ar1: Any, ar2: Any, **kwargs: Any) -> Any:
    return np.isin(ar1, ar2, **kwargs).ravel()


# Every name here is read while mxnet imports, and each entry is needed: without any one of
# them the import fails (tests/training/test_mxnet_compat.py takes each out in turn). The values are
# what numpy 1.26 had under the name. The module that reads it:
NUMPY_1_NAMES: dict[str, Any] = {
    # mxnet/numpy/utils.py
    "PZERO": 0.0,
    "NZERO": -0.0,
    "NINF": -math.inf,
    "PINF": math.inf,
    "NAN": math.nan,
    "NaN": math.nan,
    # mxnet/numpy/fallback.py
    "alltrue": np.all,
    "in1d": _in1d,
    "mirr": _removed("mirr"),
    "msort": _msort,
    "npv": _removed("npv"),
    "pmt": _removed("pmt"),
    "ppmt": _removed("ppmt"),
    "pv": _removed("pv"),
    "rate": _removed("rate"),
    "trapz": np.trapezoid,
    # mxnet/gluon/contrib/estimator/event_handler.py
    "Inf": math.inf,
    # mxnet/numpy_dispatch_protocol.py
    "sometrue": np.any,
    "round_": np.round,
    "product": np.prod,
}


@contextmanager
def numpy_1_names(names: dict[str, Any] = NUMPY_1_NAMES) -> Iterator[None]:
    """Lend numpy the names it no longer has, for as long as the block runs."""
    lent = [name for name in names if name not in vars(np)]
    for name in lent:
        setattr(np, name, names[name])
    try:
        yield
    finally:
        for name in lent:
            delattr(np, name)


def _version_module() -> types.ModuleType:
    """``distutils.version`` as mxnet uses it: LooseVersion and StrictVersion, each built
    once on a version string and compared with another (mxnet compares numpy's version)."""
    from packaging.version import Version

    module = types.ModuleType("distutils.version")
    module.LooseVersion = Version  # type: ignore[attr-defined]
    module.StrictVersion = Version  # type: ignore[attr-defined]
    return module


@contextmanager
def distutils_version() -> Iterator[None]:
    """Provide a light ``distutils.version`` for as long as the block runs: Python 3.12
    removed the module, and 3.11's comes through setuptools and pkg_resources, a tenth of
    a second at every cold start. Left alone if something imported it first."""
    if "distutils.version" in sys.modules:
        yield
        return
    names = ("distutils", "distutils.version")
    saved = {name: sys.modules[name] for name in names if name in sys.modules}
    package = types.ModuleType("distutils")
    package.__path__ = []
    package.version = _version_module()  # type: ignore[attr-defined]
    sys.modules["distutils"] = package
    sys.modules["distutils.version"] = package.version
    try:
        yield
    finally:
        for name in names:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                del sys.modules[name]


# What mxnet imports if it can, for features this project never uses (an estimator
# wrapper, scipy.sparse conversions, calibration statistics), all inside try/except
# ImportError: most of a second at every cold start. Hidden while mxnet imports; they
# still load where this project uses them (the exact split and R² import scikit-learn).
OPTIONAL_IMPORTS = ("sklearn", "scipy")


@contextmanager
def hidden(names: tuple[str, ...] = OPTIONAL_IMPORTS) -> Iterator[None]:
    """Make ``import <name>`` fail for as long as the block runs, for each of ``names``
    not imported already."""
    hide = [name for name in names if name not in sys.modules]
    for name in hide:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" fails
    try:
        yield
    finally:
        for name in hide:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _start_engine_quietly(nd: Any) -> None:
    """Start the engine now, without the line it logs to stderr for a non-default engine
    (it would sit among the handler's JSON log lines and the CLI's output)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            nd.zeros(1).wait_to_read()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load() -> dict[str, Any]:
    # Training is a hundred tiny operations in a row: MXNet's default engine hands each one
    # to a worker thread and waits, which costs more than the arithmetic. The synchronous
    # engine does not; large operations still use OpenMP threads. An explicit setting wins.
    os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
    with numpy_1_names(), distutils_version(), hidden():
        import mxnet
        from mxnet import autograd, nd
    _start_engine_quietly(nd)
    loaded = {"mx": mxnet, "nd": nd, "autograd": autograd}
    globals().update(loaded)
    return loaded


def __getattr__(name: str) -> Any:
    if name in __all__:
        return _load()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
