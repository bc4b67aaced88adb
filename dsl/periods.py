"""Calendar periods for limits (`per day`, `per week`, `per month`), in UTC.

Two moments are in the same period when their keys are equal: the same date, the same ISO week,
or the same month. The example runner and the ledger's usage totals both use these keys.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dsl.errors import InternalError


def period_key(period: str, moment_s: int) -> tuple[int, ...]:
    """The period containing `moment_s` (seconds since the epoch) as a comparable key."""
    moment = datetime.fromtimestamp(moment_s, UTC)
    if period == "day":
        return (moment.year, moment.month, moment.day)
    if period == "week":
        year, week, _ = moment.isocalendar()
        return (year, week)
    if period == "month":
        return (moment.year, moment.month)
    raise InternalError(f"unknown period {period!r}")
