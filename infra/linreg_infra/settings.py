"""Deployment settings: the `linreg:*` CDK context keys, parsed and validated in one place.

Every key has a default here (docs/deploy.md lists them). Override one for a single
command with `cdk deploy -c linreg:memoryMb=3008`, or for good by adding it to the
"context" of cdk.json. Values given with -c arrive as strings and values from cdk.json as
JSON, so every parser (settings_parsers.py) accepts both. A bad value stops synthesis with
a message that names the key; so does an unknown `linreg:*` key, because a misspelt key
would otherwise be silently ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from linreg import config
from linreg.contract import (
    DEFAULT_DISTRIBUTED_ABOVE_BYTES,
    DEFAULT_FAILURES_PREFIX,
    DEFAULT_INCOMING_PREFIX,
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_MEMORY_MB,
    DEFAULT_MODELS_PREFIX,
    DEFAULT_PART_BYTES,
    DEFAULT_PREDICT_PREFIX,
    DEFAULT_PREDICTIONS_PREFIX,
    DISTRIBUTED_ABOVE_BYTES_ENV,
    EVENT_BUS_ENV,
    MAX_INPUT_BYTES_ENV,
    MAX_ITERATIONS_ENV,
    MAX_PARTS,
    MAX_PARTS_ENV,
    PART_BYTES_ENV,
    PRICE_PER_GB_SECOND_ENV,
    PRICE_PER_REQUEST_ENV,
    PRICE_PER_TRANSITION_ENV,
    PROMOTION_ENV,
    UPLOAD_SETTINGS_ENV,
)
from linreg.promotion import NEWEST
from linreg.spec import BUILT_IN
from linreg_infra.settings_parsers import (
    DEFAULT_ARCHITECTURE,
    DEFAULT_EVENT_BUS,
    MAX_TAGS,
    SettingsError,
    architecture,
    boolean,
    choice,
    email,
    event_bus_name,
    fraction,
    log_retention,
    optional_whole_number,
    positive_number,
    prefix,
    price,
    promotion,
    stack_name,
    tags,
    upload_settings,
    whole_number,
)

PREFIX = "linreg:"

# The library's own limits and choices, checked here too, so that a bad setting fails the
# deploy instead of every run.
MAX_ITERATIONS = config.MAX_ITERATIONS
MAX_SEED = config.MAX_SEED
LOSSES = config.LOSSES
ENGINES = config.ENGINES
PRESETS = tuple(config.PRESETS)
DATASETS = tuple(BUILT_IN)
# S3's largest object: the library's own limit (LINREG_MAX_INPUT_BYTES) can only be lower.
MAX_OBJECT_BYTES = 5 * 2**40
# The scale-out's limits. Below a MiB a part or a threshold only multiplies Lambda runs for
# nothing; a part above 10 GiB could not be read within Lambda's 15 minutes.
MIN_PART_BYTES = 2**20
MAX_PART_BYTES = 10 * 2**30
# Distributed Map's own limit on child executions running at once.
MAX_PARALLEL_PARTS = 10_000
# A whole distributed run: at least a minute (one plan, one part, one reduce fit in it), at
# most a day. Standard executions may run a year, but a run still going after a day is stuck,
# and the timeout is what turns a stuck run into a failure record and an alarm.
MIN_DISTRIBUTED_TIMEOUT_SECONDS = 60
MAX_DISTRIBUTED_TIMEOUT_SECONDS = 86_400
# Lambda steps of a distributed run that follow one another: plan, a part, reduce.
DISTRIBUTED_STEPS_IN_A_ROW = 3


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything about a deployment that may differ between two deployments."""

    stack_name: str = "Linreg"
    # x86_64: the 20 % cheaper arm64 (Graviton) is refused until mxnet's aarch64 wheel can
    # load (ARM64_BLOCKED, docs/deploy.md).
    architecture: str = DEFAULT_ARCHITECTURE
    # Memory is not what the size is for: the handler streams its input, so its peak barely
    # grows with the file (docs/performance.md). Lambda allots CPU by memory, and parsing
    # uses all the CPU this size buys.
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_seconds: int = 300
    reserved_concurrency: int | None = None
    # Runs at once: the SQS event source mapping's maximum concurrency. Not reserved
    # concurrency, which a new account (a quota of 10, all of it unreservable) cannot have.
    max_concurrency: int = 5
    incoming_prefix: str = DEFAULT_INCOMING_PREFIX
    models_prefix: str = DEFAULT_MODELS_PREFIX
    failures_prefix: str = DEFAULT_FAILURES_PREFIX
    # Predictions on upload: CSVs to score, and where their predictions go.
    predict_prefix: str = DEFAULT_PREDICT_PREFIX
    predictions_prefix: str = DEFAULT_PREDICTIONS_PREFIX
    # None leaves the library's default (the tutorial's) in place.
    dataset: str | None = None
    preset: str | None = None
    learning_rate: float | None = None
    iterations: int | None = None
    seed: int | None = None
    loss: str | None = None
    engine: str | None = None
    tolerance: float | None = None
    test_size: float | None = None
    max_input_bytes: int | None = None
    # The operator's limits on what a run may do (in the environment always). The library
    # checks each run's iterations, the deployment's own included, against max_iterations.
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    # The environment's text: "" for all, "none", or sorted comma-joined metadata keys.
    upload_settings: str = ""
    log_retention_days: int = 30
    noncurrent_version_days: int = 90
    access_log_expiration_days: int = 365
    destroy_on_delete: bool = False
    alarm_email: str | None = None
    # Scale-out (Step Functions Distributed Map): uploads above this size go to the state
    # machine, which trains on parts of about part_bytes each, at most max_parallel_parts at
    # once, and gives a whole run distributed_timeout_seconds.
    distributed_above_bytes: int = DEFAULT_DISTRIBUTED_ABOVE_BYTES
    part_bytes: int = DEFAULT_PART_BYTES
    max_parallel_parts: int = 100
    distributed_timeout_seconds: int = 3600
    # The most parts one run may have (a run of more is refused before it starts).
    max_parts: int = MAX_PARTS
    # After a run: the bus its completion event goes to (this account's), the address a
    # short message of each goes to (None: no topic), and when latest.json moves.
    event_bus_name: str = DEFAULT_EVENT_BUS
    notify_email: str | None = None
    promotion: str = NEWEST
    # The cost estimate's prices in US dollars; None leaves the library's table's.
    price_per_gb_second: float | None = None
    price_per_request: float | None = None
    price_per_transition: float | None = None
    # Cost-allocation tags on every resource, over the defaults (resource_tags).
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Settings:
        """Build the settings from the app's whole context (`app.node.get_all_context()`)."""
        ours = {key: value for key, value in context.items() if key.startswith(PREFIX)}
        unknown = sorted(set(ours) - set(CONTEXT_KEYS))
        if unknown:
            raise SettingsError(
                f"unknown context key {', '.join(unknown)}; "
                f"known keys: {', '.join(sorted(CONTEXT_KEYS))}"
            )
        values = {
            CONTEXT_KEYS[key][0]: CONTEXT_KEYS[key][1](key, value) for key, value in ours.items()
        }
        reserved = values.get("reserved_concurrency")
        if reserved is not None and "max_parallel_parts" not in values:
            # The parts run as the same function: within its reservation.
            values["max_parallel_parts"] = min(cls.max_parallel_parts, reserved)
        settings = cls(**values)
        settings._check_prefixes()
        settings._check_concurrency()
        settings._check_parallel_parts()
        settings._check_iterations()
        settings._check_distributed()
        settings._check_tags()
        return settings

    def hyperparameter_environment(self) -> dict[str, str]:
        """The library's LINREG_* variables; an empty value means the library default."""
        values = {name: getattr(self, field) for field, name in config.ENV_NAMES.items()}
        values[MAX_INPUT_BYTES_ENV] = self.max_input_bytes
        return {name: "" if value is None else str(value) for name, value in values.items()}

    def limits_environment(self) -> dict[str, str]:
        """The operator's limits on uploads; always set, so the function never guesses."""
        return {
            MAX_ITERATIONS_ENV: str(self.max_iterations),
            UPLOAD_SETTINGS_ENV: self.upload_settings,
        }

    def distributed_environment(self) -> dict[str, str]:
        """Where the function switches to the state machine, and the size of its parts."""
        return {
            DISTRIBUTED_ABOVE_BYTES_ENV: str(self.distributed_above_bytes),
            PART_BYTES_ENV: str(self.part_bytes),
            MAX_PARTS_ENV: str(self.max_parts),
        }

    def after_run_environment(self) -> dict[str, str]:
        """The completion event's bus and the promotion rule (always set), and the prices
        the deployment overrides (only those: an unset one is the library's table's)."""
        prices = {
            PRICE_PER_GB_SECOND_ENV: self.price_per_gb_second,
            PRICE_PER_REQUEST_ENV: self.price_per_request,
            PRICE_PER_TRANSITION_ENV: self.price_per_transition,
        }
        return {
            EVENT_BUS_ENV: self.event_bus_name,
            PROMOTION_ENV: self.promotion,
            **{name: str(value) for name, value in prices.items() if value is not None},
        }

    def resource_tags(self) -> dict[str, str]:
        """The tags every resource carries: the defaults, with linreg:tags over them."""
        return {**default_tags(self.stack_name), **self.tags}

    def _check_tags(self) -> None:
        # AWS's limit per resource, the defaults included, and one left for the tag CDK
        # puts on a bucket it empties on delete (linreg:destroyOnDelete).
        count = len(self.resource_tags())
        if count > MAX_TAGS - 1:
            raise SettingsError(
                f"{PREFIX}tags gives {count} tags with the defaults; at most {MAX_TAGS - 1} "
                f"fit ({MAX_TAGS} per resource, one of them CDK's own on a bucket)"
            )

    def _check_concurrency(self) -> None:
        # Lambda's advice: a maximum concurrency above the reserved concurrency gets its
        # invocations throttled, and a throttled SQS message counts as a receive, so good
        # uploads would end in the dead-letter queue after three of them.
        reserved = self.reserved_concurrency
        if reserved is not None and reserved < self.max_concurrency:
            raise SettingsError(
                f"{PREFIX}reservedConcurrency {reserved} is below {PREFIX}maxConcurrency "
                f"{self.max_concurrency}: the queue would start runs the reservation throttles; "
                f"raise the one or lower the other (maxConcurrency is at least 2)"
            )

    def _check_parallel_parts(self) -> None:
        # The Map's children invoke this same function, so its reserved concurrency bounds
        # them too: more at once would only be throttled and retried. Without a reservation
        # they share the account's pool (docs/scale-out.md).
        reserved = self.reserved_concurrency
        if reserved is not None and reserved < self.max_parallel_parts:
            raise SettingsError(
                f"{PREFIX}maxParallelParts {self.max_parallel_parts} is above "
                f"{PREFIX}reservedConcurrency {reserved}: the parts run as the function, "
                "within its reservation; lower the one or raise the other"
            )

    def _check_iterations(self) -> None:
        # The function refuses a run above its own limit: a default above it would fail them all.
        if self.iterations is not None and self.iterations > self.max_iterations:
            raise SettingsError(
                f"{PREFIX}iterations {self.iterations} is above {PREFIX}maxIterations "
                f"{self.max_iterations}: every run would be refused; raise the limit or "
                "lower the iterations"
            )

    def _check_distributed(self) -> None:
        # A part as large as the threshold would make a distributed run of a single part.
        if self.part_bytes > self.distributed_above_bytes:
            raise SettingsError(
                f"{PREFIX}partBytes {self.part_bytes} is above {PREFIX}distributedAboveBytes "
                f"{self.distributed_above_bytes}: a distributed run would be one part; lower "
                "the one or raise the other"
            )
        # Plan, the parts and reduce run one after another, each up to the function's timeout:
        # a shorter run timeout would end runs the function was still working on.
        least = DISTRIBUTED_STEPS_IN_A_ROW * self.timeout_seconds
        if self.distributed_timeout_seconds < least:
            raise SettingsError(
                f"{PREFIX}distributedTimeoutSeconds {self.distributed_timeout_seconds} is below "
                f"{DISTRIBUTED_STEPS_IN_A_ROW} times {PREFIX}timeoutSeconds "
                f"{self.timeout_seconds} ({least}): plan, parts and reduce run one after another"
            )

    def _check_prefixes(self) -> None:
        # Overlapping prefixes would let the function's own output trigger it again
        # (output under incoming/ or predict/) or mix failure records into the model folders.
        named = {
            "incomingPrefix": self.incoming_prefix,
            "modelsPrefix": self.models_prefix,
            "failuresPrefix": self.failures_prefix,
            "predictPrefix": self.predict_prefix,
            "predictionsPrefix": self.predictions_prefix,
        }
        for (key_a, a), (key_b, b) in itertools.combinations(named.items(), 2):
            if a.startswith(b) or b.startswith(a):
                raise SettingsError(
                    f"{PREFIX}{key_a} {a!r} and {PREFIX}{key_b} {b!r} overlap; "
                    "the five prefixes must be disjoint"
                )


def default_tags(stack_name: str) -> dict[str, str]:
    """What every resource is tagged with unless linreg:tags says otherwise: the project
    and the stack, the two questions a bill is asked."""
    return {"project": "linreg", "linreg:stack": stack_name}


# Context key -> (Settings field, parser). Limits are Lambda's, SQS's and S3's own.
CONTEXT_KEYS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    f"{PREFIX}stackName": ("stack_name", stack_name),
    f"{PREFIX}architecture": ("architecture", architecture),
    f"{PREFIX}memoryMb": ("memory_mb", whole_number(128, 10240)),
    f"{PREFIX}timeoutSeconds": ("timeout_seconds", whole_number(1, 900)),
    f"{PREFIX}reservedConcurrency": ("reserved_concurrency", optional_whole_number(1, 10_000)),
    f"{PREFIX}maxConcurrency": ("max_concurrency", whole_number(2, 1000)),
    f"{PREFIX}incomingPrefix": ("incoming_prefix", prefix),
    f"{PREFIX}modelsPrefix": ("models_prefix", prefix),
    f"{PREFIX}failuresPrefix": ("failures_prefix", prefix),
    f"{PREFIX}predictPrefix": ("predict_prefix", prefix),
    f"{PREFIX}predictionsPrefix": ("predictions_prefix", prefix),
    f"{PREFIX}dataset": ("dataset", choice(DATASETS)),
    f"{PREFIX}preset": ("preset", choice(PRESETS)),
    f"{PREFIX}learningRate": ("learning_rate", positive_number),
    f"{PREFIX}iterations": ("iterations", optional_whole_number(1, MAX_ITERATIONS)),
    f"{PREFIX}seed": ("seed", optional_whole_number(0, MAX_SEED)),
    f"{PREFIX}loss": ("loss", choice(LOSSES)),
    f"{PREFIX}engine": ("engine", choice(ENGINES)),
    f"{PREFIX}tolerance": ("tolerance", fraction),
    f"{PREFIX}testSize": ("test_size", fraction),
    f"{PREFIX}maxInputBytes": ("max_input_bytes", optional_whole_number(1, MAX_OBJECT_BYTES)),
    f"{PREFIX}maxIterations": ("max_iterations", whole_number(1, MAX_ITERATIONS)),
    f"{PREFIX}uploadSettings": ("upload_settings", upload_settings),
    f"{PREFIX}logRetentionDays": ("log_retention_days", log_retention),
    f"{PREFIX}noncurrentVersionDays": ("noncurrent_version_days", whole_number(1, 36500)),
    f"{PREFIX}accessLogExpirationDays": ("access_log_expiration_days", whole_number(1, 36500)),
    f"{PREFIX}destroyOnDelete": ("destroy_on_delete", boolean),
    f"{PREFIX}alarmEmail": ("alarm_email", email),
    f"{PREFIX}distributedAboveBytes": (
        "distributed_above_bytes",
        whole_number(MIN_PART_BYTES, MAX_OBJECT_BYTES),
    ),
    f"{PREFIX}partBytes": ("part_bytes", whole_number(MIN_PART_BYTES, MAX_PART_BYTES)),
    f"{PREFIX}maxParallelParts": ("max_parallel_parts", whole_number(1, MAX_PARALLEL_PARTS)),
    f"{PREFIX}maxParts": ("max_parts", whole_number(1, MAX_PARTS)),
    f"{PREFIX}distributedTimeoutSeconds": (
        "distributed_timeout_seconds",
        whole_number(MIN_DISTRIBUTED_TIMEOUT_SECONDS, MAX_DISTRIBUTED_TIMEOUT_SECONDS),
    ),
    f"{PREFIX}eventBusName": ("event_bus_name", event_bus_name),
    f"{PREFIX}notifyEmail": ("notify_email", email),
    f"{PREFIX}promotion": ("promotion", promotion),
    f"{PREFIX}pricePerGbSecond": ("price_per_gb_second", price),
    f"{PREFIX}pricePerRequest": ("price_per_request", price),
    f"{PREFIX}pricePerTransition": ("price_per_transition", price),
    f"{PREFIX}tags": ("tags", tags),
}
