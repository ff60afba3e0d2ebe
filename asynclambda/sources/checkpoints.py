"""Where stream mappings remember how far they got: one sequence number per (mapping, shard).

A checkpoint is the sequence number of the last record a mapping processed in a shard; after a
restart the mapping resumes ``AFTER_SEQUENCE_NUMBER`` of it. A checkpoint never moves backwards
(that would replay records the mapping already acknowledged, or hide a bug that reorders
acknowledgements): setting a lower one raises :class:`CheckpointRegressionError`. Sequence numbers
are decimal strings and compare as integers.
"""

from __future__ import annotations

import abc

import msgspec

from asynclambda._resource import AsyncResource
from asynclambda.errors import AsyncLambdaError
from asynclambda.sources.stream import InvalidArgumentException

__all__ = [
    "CheckpointRegressionError",
    "CheckpointStatistics",
    "CheckpointStore",
    "MemoryCheckpointStore",
    "sequence_key",
]


class CheckpointRegressionError(AsyncLambdaError, ValueError):
    """A checkpoint was set below the one already stored for that mapping and shard."""

    def __init__(self, mapping_id: str, shard_id: str, current: str, attempted: str) -> None:
        self.mapping_id = mapping_id
        self.shard_id = shard_id
        self.current = current
        self.attempted = attempted
        super().__init__(f"checkpoint of mapping {mapping_id!r} on shard {shard_id!r} cannot move "
                         f"back from {current} to {attempted}")


def sequence_key(sequence_number: str) -> int:
    """A sequence number as an int for comparison; :class:`InvalidArgumentException` if it is
    not a decimal string."""
    if not isinstance(sequence_number, str) or not sequence_number.isdecimal() or not sequence_number.isascii():
        raise InvalidArgumentException(f"{sequence_number!r} is not a sequence number")
    return int(sequence_number)


class CheckpointStore(AsyncResource, abc.ABC):
    """Checkpoints per (mapping id, shard id). Required: ``get`` and ``set``; ``aclose`` and
    ``async with`` are supplied. ``set`` must refuse to move a checkpoint backwards, atomically
    with respect to other writers of the same key (a compare-and-set in a broker)."""

    @abc.abstractmethod
    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        """The stored sequence number, or ``None`` if the mapping never checkpointed this shard."""

    @abc.abstractmethod
    async def set(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        """Store a checkpoint. Equal to the current one: a no-op. Lower: raises
        :class:`CheckpointRegressionError` and keeps the current one."""

    async def aclose(self) -> None:
        """Release the store's resources. Idempotent."""



class CheckpointStatistics(msgspec.Struct, frozen=True):
    """Counts of a checkpoint store: keys held, checkpoints moved forward, regressions refused."""

    checkpoints: int
    advanced: int
    rejected: int


class MemoryCheckpointStore(CheckpointStore):
    """Checkpoints in a dict (the default; lost with the process)."""

    def __init__(self) -> None:
        self._checkpoints: dict[tuple[str, str], tuple[int, str]] = {}
        self._advanced = 0
        self._rejected = 0

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        entry = self._checkpoints.get((mapping_id, shard_id))
        return None if entry is None else entry[1]

    async def set(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        key = sequence_key(sequence_number)
        current = self._checkpoints.get((mapping_id, shard_id))
        if current is not None:
            if key < current[0]:
                self._rejected += 1
                raise CheckpointRegressionError(mapping_id, shard_id, current[1], sequence_number)
            if key == current[0]:
                return
        self._checkpoints[(mapping_id, shard_id)] = (key, sequence_number)
        self._advanced += 1

    def statistics(self) -> CheckpointStatistics:
        """A snapshot of the store's counts."""
        return CheckpointStatistics(len(self._checkpoints), self._advanced, self._rejected)
