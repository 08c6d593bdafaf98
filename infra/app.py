"""CDK entry point, run by `cdk synth` / `cdk deploy` through the "app" line of cdk.json.

The app itself is linreg_infra.app (`build_app`); settings come from the "linreg:*" context
keys (linreg_infra/settings.py, docs/deploy.md). Run as a script, this file's folder is
first on sys.path, so linreg_infra imports from here; the library (linreg) comes from the
project's venv, where `make` installs it.
"""

from linreg_infra.app import main

if __name__ == "__main__":
    main()
