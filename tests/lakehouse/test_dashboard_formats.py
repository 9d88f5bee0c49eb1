"""How the dashboard and the ledger write figures for people, checked without any service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from ingestion.plans import OffsetRange
from lakehouse.serving.dashboard.formats import compact_eur, every_period

pytestmark = pytest.mark.fast


def test_money_fits_a_metric_at_1280_px():
    assert compact_eur(Decimal("14868210.55")) == "€14.87M"
    assert compact_eur(912_345.6) == "€912.35k"
    assert compact_eur(Decimal("743.41")) == "€743.41"
    assert compact_eur(2.5e9) == "€2.50B"
    assert compact_eur(None) == "—"


def test_a_day_without_sales_is_zero_in_every_series():
    sales = pd.DataFrame(
        {
            "order_date": [date(2026, 11, 1), date(2026, 11, 4), date(2026, 11, 4)],
            "channel": ["pos", "pos", "online"],
            "revenue_eur": [Decimal("1.5"), Decimal("2"), Decimal("3")],
        }
    )
    days = every_period(sales, "order_date", "channel", "revenue_eur")
    assert len(days) == 8  # 4 days x 2 channels
    by_key = {(row.order_date.date(), row.channel): row.revenue_eur for row in days.itertuples()}
    assert by_key[(date(2026, 11, 2), "pos")] == 0 and by_key[(date(2026, 11, 3), "online")] == 0
    assert by_key[(date(2026, 11, 1), "pos")] == 1.5 and by_key[(date(2026, 11, 4), "online")] == 3.0


def test_offsets_read_as_first_and_last():
    assert str(OffsetRange(0, 6723, 6728)) == "p0 6723–6727"
    assert str(OffsetRange(2, 41, 42)) == "p2 41"


def test_a_month_without_samples_is_a_gap_in_a_mean():
    means = pd.DataFrame(
        {"sample_month": [date(2026, 1, 1), date(2026, 4, 1)], "site_name": ["S1", "S1"], "mean_value": [7.1, 7.3]}
    )
    months = every_period(means, "sample_month", "site_name", "mean_value", freq="MS", missing=float("nan"))
    assert list(months.sample_month.dt.month) == [1, 2, 3, 4]
    assert months.mean_value.isna().tolist() == [False, True, True, False]
