"""How the dashboard writes its figures: pure functions of values and frames, tested without a browser."""

from __future__ import annotations

import pandas as pd


def eur(value) -> str:
    return "—" if value is None else f"€{float(value):,.2f}"


def compact_eur(value) -> str:
    """A metric that fits a quarter of a 1280-px window: €14.87M, €912.35k, €743.41."""
    if value is None:
        return "—"
    amount = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= size:
            return f"€{amount / size:,.2f}{suffix}"
    return f"€{amount:,.2f}"


def every_period(
    frame: pd.DataFrame, period: str, series: str, value: str, freq: str = "D", missing: float = 0.0
) -> pd.DataFrame:
    """One row per period (`freq`: D days, h hours, MS months) and series from the first to the last, so
    that a chart does not draw a straight line across periods without data: `missing` is 0 for counts and
    amounts, NaN (a gap in the line) for means and rates."""
    if frame.empty:
        return frame
    periods = pd.to_datetime(frame[period])
    wide = frame.assign(**{period: periods, value: frame[value].astype(float)}).pivot_table(
        index=period, columns=series, values=value, aggfunc="sum"
    )
    wide = wide.reindex(pd.date_range(periods.min(), periods.max(), freq=freq)).fillna(missing)
    return wide.rename_axis(period).reset_index().melt(id_vars=period, var_name=series, value_name=value)
