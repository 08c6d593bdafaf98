"""Names the function and its stack share: environment variables, key prefixes, upload
suffixes, metrics, and the words a run's outcome is told in.

The CDK stack (infra/) imports these instead of retyping them. Imports nothing, so the
stack can read it without loading the library.
"""

from __future__ import annotations

from enum import StrEnum

# The bucket layout's prefixes: the stack sets them, the function reads them.
INCOMING_PREFIX_ENV = "INCOMING_PREFIX"
MODELS_PREFIX_ENV = "MODELS_PREFIX"
FAILURES_PREFIX_ENV = "FAILURES_PREFIX"
DEFAULT_INCOMING_PREFIX = "incoming/"
DEFAULT_MODELS_PREFIX = "models/"
DEFAULT_FAILURES_PREFIX = "failures/"
# Predictions on upload: a CSV under the predict prefix is scored by its model's latest run
# and written under the predictions prefix (service/predictions.py).
PREDICT_PREFIX_ENV = "PREDICT_PREFIX"
PREDICTIONS_PREFIX_ENV = "PREDICTIONS_PREFIX"
DEFAULT_PREDICT_PREFIX = "predict/"
DEFAULT_PREDICTIONS_PREFIX = "predictions/"

# What the function trains on; anything else under the upload prefix is skipped. Longest
# first, so that "a.csv.gz" is not read as a ".gz" named "a.csv". A manifest announces a
# dataset of many part files (scale-out); the stack notifies the function of all three.
UPLOAD_SUFFIXES = (".csv.gz", ".csv")
MANIFEST_SUFFIX = ".manifest.json"
TRIGGER_SUFFIXES = (*UPLOAD_SUFFIXES, MANIFEST_SUFFIX)

# What a run writes under models/<name>/<run_id>/: report.json last, and only if absent
# (the run is complete exactly when it exists); latest.json sits in models/<name>/.
PARAMS_FILE = "params.json"
PARAMS_ND_FILE = "params.nd"
LOSS_FIGURE_FILE = "loss.png"
REPORT_HTML_FILE = "report.html"
# The model as one SQL query (outputs/model_sql.py).
MODEL_SQL_FILE = "model.sql"
# Only when the curve is too long to sit in report.json.
LOSS_HISTORY_FILE = "loss_history.json"
RUN_FILES = (
    PARAMS_FILE,
    PARAMS_ND_FILE,
    MODEL_SQL_FILE,
    LOSS_FIGURE_FILE,
    REPORT_HTML_FILE,
    LOSS_HISTORY_FILE,
)
REPORT_FILE = "report.json"
LATEST_FILE = "latest.json"
# The model's page, models/<name>/index.html: its runs, rewritten after each of them.
MODEL_PAGE_FILE = "index.html"

# The deployment's settings: LINREG_<SETTING> for each text setting, and the operator's
# limits: the input size, the most iterations an upload may ask for, and which settings
# upload metadata may set at all (comma-separated metadata keys, "none", or blank for all).
SETTING_ENV_PREFIX = "LINREG_"
MAX_INPUT_BYTES_ENV = "LINREG_MAX_INPUT_BYTES"
MAX_ITERATIONS_ENV = "LINREG_MAX_ITERATIONS"
UPLOAD_SETTINGS_ENV = "LINREG_UPLOAD_SETTINGS"
DEFAULT_MAX_ITERATIONS = 100_000

# Scale-out (Step Functions Distributed Map): the state machine the function starts for an
# upload above the size, the bytes per part, and how a step's event names its step.
STATE_MACHINE_ARN_ENV = "LINREG_STATE_MACHINE_ARN"
DISTRIBUTED_ABOVE_BYTES_ENV = "LINREG_DISTRIBUTED_ABOVE_BYTES"
PART_BYTES_ENV = "LINREG_PART_BYTES"
MAX_PARTS_ENV = "LINREG_MAX_PARTS"
DEFAULT_DISTRIBUTED_ABOVE_BYTES = 256 * 2**20
DEFAULT_PART_BYTES = 64 * 2**20
# The most parts one run may have: what the state machine's payloads hold with room to
# spare (docs/scale-out.md has the arithmetic); the operator may only lower it.
MAX_PARTS = 10_000
STEP_FIELD = "linreg_step"  # in a state machine's Lambda payload: "plan", "part" or "reduce"
# Under a run's folder: the plan (a JSON array, one item per part), each part's statistics
# (PART_FILE with the part's index) and the mark of the first delivery that started the run.
DISTRIBUTED_FOLDER = "distributed/"
PLAN_FILE = "plan.json"
PART_FILE = "part-{index:05d}.json"
STARTED_FILE = "started.json"

# After a run (docs/reference.md, "After a run"). Each run that ends puts one event on
# EventBridge: source EVENT_SOURCE, detail-type EVENT_DETAIL_TYPE, on the bus
# EVENT_BUS_ENV names (unset: no event, as outside a deployment). The delivery that claims
# the run's EVENT_FILE (a conditional write) is the one that puts it.
EVENT_BUS_ENV = "LINREG_EVENT_BUS_NAME"
EVENT_SOURCE = "linreg"
EVENT_DETAIL_TYPE = "Run Finished"
EVENT_FILE = "event.json"  # in a run's folder; beside a failure record as <run_id>.event.json
# When latest.json moves: "newest" (the default), "better" or "near-optimum:<percent>"
# (linreg.promotion parses it, for the stack too).
PROMOTION_ENV = "LINREG_PROMOTION"
# The price table's overrides (linreg.cost), in US dollars; blank: the table's.
PRICE_PER_GB_SECOND_ENV = "LINREG_PRICE_PER_GB_SECOND"
PRICE_PER_REQUEST_ENV = "LINREG_PRICE_PER_REQUEST"
PRICE_PER_TRANSITION_ENV = "LINREG_PRICE_PER_TRANSITION"
# The function's memory when Lambda does not say (AWS_LAMBDA_FUNCTION_MEMORY_SIZE): the
# stack's default (linreg:memoryMb), also what a local run's cost is estimated at.
DEFAULT_MEMORY_MB = 2048
# Step Functions Standard state transitions of a distributed run that succeeds, retries
# aside: the parent's states entered (PreparePlan, Plan, Planned, TrainParts, Reduce), and
# for each part one for starting its child execution and one for its TrainPart state
# (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html).
# tests/infra holds them to the state machine's definition.
TRANSITIONS_PER_DISTRIBUTED_RUN = 5
TRANSITIONS_PER_PART = 2

# Powertools' service and metrics namespace (embedded metric format in the logs).
SERVICE_NAME = "linreg"
METRICS_NAMESPACE = "Linreg"


class Metric(StrEnum):
    """The function's CloudWatch metrics."""

    RUNS_SUCCEEDED = "RunsSucceeded"
    RUNS_FAILED = "RunsFailed"
    RUNS_DIVERGED = "RunsDiverged"
    ROWS_TRAINED = "RowsTrained"
    TEST_MSE = "TestMSE"
    TRAINING_SECONDS = "TrainingSeconds"
    EVENTS_NOT_SENT = "EventsNotSent"  # completion events EventBridge did not take
    PREDICTIONS_WRITTEN = "PredictionsWritten"
    PREDICTIONS_FAILED = "PredictionsFailed"


class Status(StrEnum):
    """How a run (or a record the function was handed) ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # bad input or settings: a failure record, no model
    DIVERGED = "diverged"  # the loss exploded: a failure record, no model
    SKIPPED = "skipped"  # not the function's to train (wrong key, or replaced upload)
    STARTED = "started"  # handed to the state machine (scale-out); it publishes the run


class StopReason(StrEnum):
    """Why gradient descent stopped."""

    ITERATIONS = "iterations"  # ran them all
    TOLERANCE = "tolerance"  # the loss stopped changing
    DIVERGED = "diverged"  # the loss exploded (the run then has Status.DIVERGED)
