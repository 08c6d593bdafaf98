"""linreg's CDK app: the stack that deploys the training function and what it needs.

app.py builds the app (infra/app.py, which cdk.json runs, is its entry point); stack.py
composes the stack from its parts: storage.py, function.py, trigger.py,
distributed_run.py and monitoring.py. settings.py (with settings_parsers.py) reads the
`linreg:*` context keys; rooms.py keeps the parts out of the logical ids; shared.py holds
what several parts build alike. The names the stack shares with the function come from
the library (linreg.contract), which is installed next to this package.
"""
