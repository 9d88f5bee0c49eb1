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


def every_day(frame: pd.DataFrame, day: str, series: str, value: str) -> pd.DataFrame:
    """One row per day and series from the first day to the last: a day without data is 0, not a straight line."""
    if frame.empty:
        return frame
    days = pd.to_datetime(frame[day])
    wide = frame.assign(**{day: days, value: frame[value].astype(float)}).pivot_table(
        index=day, columns=series, values=value, aggfunc="sum"
    )
    wide = wide.reindex(pd.date_range(days.min(), days.max(), freq="D"), fill_value=0).fillna(0)
    return wide.rename_axis(day).reset_index().melt(id_vars=day, var_name=series, value_name=value)
