"""linreg.training._mxnet: mxnet 1.9.1 on numpy 2 and on Pythons without distutils.

Each test imports mxnet in a fresh process, since an import happens once per process.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from linreg.training import _mxnet


def run_fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The exception a failed process ended with (mxnet may log a line after it)."""
    *_, line = [
        line for line in result.stderr.splitlines() if re.match(r"\w+(Error|Exception): ", line)
    ]
    return line


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_mxnet.NUMPY_1_NAMES))
def test_mxnet_does_not_import_without_each_lent_name(name):
    result = run_fresh(f"import linreg.training._mxnet as m\ndel m.NUMPY_1_NAMES[{name!r}]\nm.nd\n")
    assert result.returncode != 0
    assert name in error_line(result)


@pytest.mark.slow
def test_mxnet_does_not_import_without_distutils_version():
    result = run_fresh(
        "import sys, contextlib\n"
        "sys.modules['distutils'] = None  # as on Python 3.12 and later\n"
        "import linreg.training._mxnet as m\n"
        "m.distutils_version = lambda **kwargs: contextlib.nullcontext()\n"
        "m.nd\n"
    )
    assert result.returncode != 0
    assert "distutils" in error_line(result)


@pytest.mark.slow
def test_mxnet_imports_where_the_standard_library_has_no_distutils():
    result = run_fresh(
        "import sys\n"
        "sys.modules['distutils'] = None\n"
        "from linreg.training._mxnet import nd\n"
        "print(nd.array([1, 2]).sum().asscalar(), sys.modules['distutils'])\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3.0", "None"]


@pytest.mark.slow
def test_numpy_keeps_no_lent_name_after_the_import():
    result = run_fresh(
        "import numpy as np\n"
        "from linreg.training._mxnet import nd\n"
        f"print([name for name in {sorted(_mxnet.NUMPY_1_NAMES)!r} if name in vars(np)])\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_numpy_is_version_2():
    import numpy as np

    assert int(np.__version__.split(".")[0]) >= 2


def test_lent_names_are_numpy_1_values():
    import numpy as np

    names = _mxnet.NUMPY_1_NAMES
    assert names["NINF"] == -np.inf and names["PZERO"] == 0.0
    assert np.copysign(1.0, names["NZERO"]) == -1.0
    assert names["product"]([2, 3]) == 6
    assert list(names["in1d"]([[1, 2], [3, 4]], [2, 3])) == [False, True, True, False]
    with pytest.raises(NotImplementedError, match="numpy.npv was removed"):
        names["npv"](0.1, [1, 2])


@pytest.mark.slow
def test_mxnet_loads_without_scikit_learn_scipy_or_setuptools():
    # The cold start: mxnet would import them for features this project never uses.
    result = run_fresh(
        "import sys\n"
        "from linreg.training._mxnet import nd\n"
        "nd.zeros(1)\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'setuptools') if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_scikit_learn_imports_after_mxnet_for_the_exact_split():
    result = run_fresh(
        "from linreg.training._mxnet import nd\n"
        "nd.zeros(1)\n"
        "from sklearn.model_selection import train_test_split\n"
        "import scipy.sparse, sys\n"
        "print(len(train_test_split(list(range(10)), test_size=0.3, random_state=1)[1]))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
