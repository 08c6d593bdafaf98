"""Run Python as if moto were not installed, as in the function image or a plain
``pip install linreg``: ``python tests/without_moto.py -c CODE`` or ``-m MODULE ARGS``."""

import runpy
import sys


class _NoMoto:
    def find_spec(self, name, path=None, target=None):
        if name == "moto" or name.startswith("moto."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoMoto())
option, target, *sys.argv[1:] = sys.argv[1:]
if option == "-c":
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
else:
    sys.argv[0] = target
    runpy.run_module(target, run_name="__main__", alter_sys=True)
