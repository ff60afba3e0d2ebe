"""The function registry: functions, published versions and aliases with weighted routing.

``$LATEST`` is mutable (updating it replaces its pool, as Lambda resets environments on update);
:meth:`FunctionEntry.publish` freezes code and configuration into version ``"1"``, ``"2"`` ...
An alias points at one version and may send a weight (0-1) of its traffic to a second one. Every
version has its own pool of execution contexts; reserved concurrency belongs to the function and
is shared by all its versions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import msgspec

from .errors import (
    ConfigError,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from .handlers import code_digest
from .pool import ContextPool, Limiter

if TYPE_CHECKING:
    from .config import FunctionConfig
    from .runtime import Runtime

__all__ = ["Alias", "FunctionEntry"]

LATEST = "$LATEST"
_ALIAS_RE = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")


class Alias(msgspec.Struct, frozen=True, kw_only=True):
    """A named pointer to a version, optionally routing a weight of traffic to another one."""

    name: str
    function_version: str
    #: ``{version: weight}``: at most one additional version, weight in [0, 1].
    routing: Mapping[str, float] = msgspec.field(default_factory=dict)
    description: str = ""


def _comparable(config: FunctionConfig) -> FunctionConfig:
    """A configuration without what does not make a new version (description, provisioned)."""
    return config.replace(description="", provisioned_concurrency=0)


class FunctionEntry:
    """One registered function: its versions' pools, aliases and concurrency limiter."""

    def __init__(self, runtime: Runtime, config: FunctionConfig, limiter: Limiter) -> None:
        self.runtime = runtime
        self.name = config.name
        self.arn = runtime.function_arn(config.name)
        self.limiter = limiter
        self.latest = ContextPool(runtime, self, LATEST, config, self.arn)
        self.versions: dict[str, ContextPool] = {LATEST: self.latest}
        self.aliases: dict[str, Alias] = {}
        #: Replaced ``$LATEST`` pools that may still have invocations in flight.
        self.retired: list[ContextPool] = []
        self._next_version = 1
        rate = runtime.scaling_rate
        self._scale_tokens = float(rate[0]) if rate is not None else 0.0
        self._scale_time = runtime.clock.now()

    @property
    def config(self) -> FunctionConfig:
        return self.latest.config

    @property
    def reserved_concurrency(self) -> int | None:
        return self.latest.config.reserved_concurrency

    def pools(self) -> list[ContextPool]:
        return list(self.versions.values())

    def in_flight(self) -> int:
        if self.retired:
            self.retired = [p for p in self.retired if p.in_flight]
        return (sum(p.in_flight for p in self.versions.values())
                + sum(p.in_flight for p in self.retired))

    def replace_latest(self, config: FunctionConfig) -> None:
        """New ``$LATEST`` code/config: a new pool; the old one drains and shuts down."""
        old = self.latest
        if old.in_flight:
            self.retired.append(old)
        self.latest = ContextPool(self.runtime, self, LATEST, config, self.arn)
        self.versions[LATEST] = self.latest

    # -- resolving a qualifier ------------------------------------------------------------------
    def resolve(self, qualifier: str | None, rng: random.Random) -> tuple[ContextPool, str | None]:
        """The pool to run on and the invoked ARN (``None`` = unqualified) for ``qualifier``."""
        if qualifier is None:
            return self.latest, None
        pool = self.versions.get(qualifier)
        if pool is not None:
            return pool, f"{self.arn}:{qualifier}"
        alias = self.aliases.get(qualifier)
        if alias is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.arn}:{qualifier}")
        version = alias.function_version
        for extra, weight in alias.routing.items():
            if weight > 0 and rng.random() < weight:
                version = extra
        return self.versions[version], f"{self.arn}:{qualifier}"

    # -- versions and aliases -------------------------------------------------------------------
    def publish(self, description: str = "", provisioned_concurrency: int = 0) -> str:
        """Freeze ``$LATEST`` into a numbered version and return its number.

        As Lambda's PublishVersion: when neither code nor configuration changed since the last
        published version, no new version is made and the last one's number is returned. The
        handler module is compiled now, so the version keeps the code it was published with
        even if the file changes later.
        """
        latest = self.latest
        digest = code_digest(latest.config)
        last = self.versions.get(str(self._next_version - 1))
        if (last is not None and last.code_digest == digest
                and _comparable(last.config) == _comparable(latest.config)):
            return last.version_name
        number = str(self._next_version)
        self._next_version += 1
        config = latest.config.replace(
            description=description or latest.config.description,
            provisioned_concurrency=provisioned_concurrency)
        pool = ContextPool(self.runtime, self, number, config, self.arn)
        pool.code_digest = digest
        pool.freeze_code_from(latest)
        self.versions[number] = pool
        return number

    # -- scaling rate ---------------------------------------------------------------------------
    def may_scale_up(self) -> bool:
        """Take one new-context token: Lambda scales each function by at most N new execution
        contexts per window (1,000 per 10 s), a bucket that refills steadily."""
        rate = self.runtime.scaling_rate
        if rate is None:
            return True
        burst, window = rate
        now = self.runtime.clock.now()
        tokens = min(float(burst), self._scale_tokens + (now - self._scale_time) * burst / window)
        self._scale_time = now
        if tokens < 1.0:
            self._scale_tokens = tokens
            return False
        self._scale_tokens = tokens - 1.0
        return True

    def scaling_throttled(self) -> TooManyRequestsException:
        burst, window = self.runtime.scaling_rate or (0, 0.0)
        return TooManyRequestsException(
            f"Rate Exceeded. FunctionInvocationRateLimitExceeded: function '{self.name}' scales "
            f"by at most {burst} new execution contexts per {window:g} s",
            "FunctionInvocationRateLimitExceeded")

    def set_alias(self, name: str, function_version: str,
                  routing: Mapping[str, float] | None = None, description: str = "") -> Alias:
        """Create or update an alias (validated like Lambda's CreateAlias)."""
        if not isinstance(name, str) or _ALIAS_RE.fullmatch(name) is None or name == LATEST:
            raise ConfigError("alias", name,
                              "must be 1-128 of letters, digits, '-', '_' and not all digits")
        self._check_version("function_version", function_version)
        routing = dict(routing or {})
        if len(routing) > 1:
            raise ConfigError("routing", routing, "an alias routes to at most one extra version")
        for version, weight in routing.items():
            self._check_version("routing", version)
            if version == LATEST or function_version == LATEST:
                raise ConfigError("routing", routing,
                                  "weighted routing needs published versions, not $LATEST")
            if version == function_version:
                raise ConfigError("routing", routing, "the extra version must differ from the "
                                  "alias's primary version")
            if (isinstance(weight, bool) or not isinstance(weight, int | float)
                    or not 0.0 <= weight <= 1.0):
                raise ConfigError(f"routing[{version!r}]", weight, "must be a weight in [0, 1]")
        alias = Alias(name=name, function_version=function_version,
                      routing=MappingProxyType(routing), description=description)
        self.aliases[name] = alias
        return alias

    def _check_version(self, field: str, version: str) -> None:
        if version not in self.versions:
            raise ResourceNotFoundException(
                f"Function not found: {self.arn}:{version} ({field})")

    def delete_alias(self, name: str) -> None:
        if self.aliases.pop(name, None) is None:
            raise ResourceNotFoundException(f"Alias not found: {self.arn}:{name}")

    def check_deletable_version(self, version: str) -> None:
        if version == LATEST:
            raise ResourceConflictException("$LATEST cannot be deleted on its own")
        for alias in self.aliases.values():
            if alias.function_version == version or version in alias.routing:
                raise ResourceConflictException(
                    f"version {version} is used by alias {alias.name!r}")
