"""The lakehouse dashboard (Streamlit): gold as charts, and the health of the data behind them.

Run it with `lakehouse dashboard`. It reads over Spark Connect, caches each query for the refresh
interval (LAKEHOUSE_DASHBOARD_REFRESH seconds, 10 by default) and redraws itself at that pace.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import plotly.express as px
import streamlit as st

from lakehouse.serving import access
from lakehouse.serving.dashboard import queries as q
from lakehouse.serving.dashboard.formats import compact_eur, eur, every_period
from lakehouse.settings import settings

REFRESH_S = settings().dashboard_refresh_s


@st.cache_resource(show_spinner=False)
def _spark():
    from ingestion.spark import connect

    return connect()


def _cached(function, *args):
    """A query's result, shared by every viewer for the refresh interval; a clear message if the
    lakehouse cannot answer (services down, gold not built yet)."""
    try:
        return _cached_call(function.__name__, args)
    except Exception as error:
        _spark.clear()
        text = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        if "TABLE_OR_VIEW_NOT_FOUND" in text:
            text += "\n\nbuild gold first: `lakehouse run`"
        elif any(word in text for word in ("UNAVAILABLE", "Connection refused", "failed to connect")):
            text += "\n\nstart the services: `lakehouse up`"
        st.error(f"The lakehouse could not answer: {text}")
        st.stop()


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _cached_call(name: str, args: tuple):
    function = getattr(q, name)
    if name in WITHOUT_SPARK:
        return function(*args)
    return function(_spark(), *args)


WITHOUT_SPARK = ("dbt_test_results", "silver_tables")


@st.cache_resource(show_spinner=False)
def _authenticator() -> access.Authenticator:
    return access.Authenticator()


def _reader() -> access.User:
    return st.session_state.get("reader", access.OPEN)


def _for_reader(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rows as the signed-in reader may see them: personal columns masked below admin (queries
    are cached for every reader alike, so masking happens here)."""
    hidden = [] if _reader().role.unmasked else [c for c in frame.columns if c in access.personal(table)]
    if not hidden:
        return frame
    frame = frame.copy()
    for column in hidden:
        frame[column] = frame[column].map(access.masked)
    return frame


def _signed_in() -> access.User | None:
    """The reader: anyone when the users file names nobody, else who signed in (a form until then)."""
    authenticator = _authenticator()
    if authenticator.open:
        return access.OPEN
    if "user" in st.session_state:
        return st.session_state.user
    st.title("Sign in")
    with st.form("sign_in"):
        name = st.text_input("User")
        secret = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        user = authenticator.user(name, secret)
        if user is not None:
            st.session_state.user = user
            st.rerun()
        st.error("Wrong user name or password.")
    return None


def _chart(figure) -> None:
    figure.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=360)
    st.plotly_chart(figure, use_container_width=True)


# -- pages ---------------------------------------------------------------------------------


def _top_customer(name: str | None) -> str:
    if name is None:
        return "—"
    return name if _reader().role.unmasked else str(access.masked(name))


def commerce() -> None:
    st.title("Commerce")
    products, countries, span = _cached(q.commerce_choices)
    with st.sidebar:
        st.header("Filters")
        chosen_span = st.date_input("Order dates", value=span or (), key="dates") if span else ()
        chosen_countries = st.multiselect("Country", countries, key="countries")
        names = dict(zip(products.product_name, products.product_id, strict=True))
        chosen_products = st.multiselect("Product", list(names), key="products")
    start, end = (chosen_span + (None, None))[:2] if isinstance(chosen_span, tuple) else (chosen_span, chosen_span)
    where = q.CommerceFilter(
        start=start if isinstance(start, date) else None,
        end=end if isinstance(end, date) else None,
        countries=tuple(chosen_countries),
        products=tuple(int(names[n]) for n in chosen_products),
    )

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        kpis = _cached(q.commerce_kpis, where)
        a, b, c, d = st.columns([1, 1, 1, 1.6])  # room for a customer's full name
        a.metric("Revenue (EUR)", compact_eur(kpis["revenue_eur"]), help=f"exactly {eur(kpis['revenue_eur'])}")
        b.metric("Sales", f"{kpis['sales']:,}")
        c.metric("Average basket (EUR)", compact_eur(kpis["avg_basket_eur"]))
        d.metric(
            "Top customer",
            _top_customer(kpis["top_customer"]),
            compact_eur(kpis["top_customer_spend_eur"]),
            delta_color="off",
            help=f"spent {eur(kpis['top_customer_spend_eur'])}",
        )
        daily = every_period(_cached(q.revenue_by_day, where), "order_date", "channel", "revenue_eur")
        _chart(
            px.bar(
                daily,
                x="order_date",
                y="revenue_eur",
                color="channel",
                title="Revenue by day (EUR; 0 on a day without sales)",
            )
        )
        left, right = st.columns(2)
        with left:
            by_product = _cached(q.revenue_by_product, where)
            _chart(
                px.bar(
                    by_product, x="revenue_eur", y="product", color="category", orientation="h", title="Top products"
                )
            )
        with right:
            spend = _cached(q.customer_spend)
            _chart(
                px.histogram(
                    spend,
                    x="total_spend_eur",
                    color="segment",
                    nbins=30,
                    title="Customers by total spend (EUR)",
                    labels={"total_spend_eur": "total spend (EUR)"},
                )
            )
        breakdown = _cached(q.revenue_by_country_category_segment, where)
        _chart(
            px.sunburst(
                breakdown,
                path=["country", "category", "segment"],
                values="revenue_eur",
                title="Revenue by country, category and segment",
            )
        )

    body()


def web() -> None:
    st.title("Web")

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        statuses = _cached(q.requests_by_status)
        errors = _cached(q.error_rate)
        total = int(errors.requests.sum()) if not errors.empty else 0
        failed = int((errors.client_errors + errors.server_errors).sum()) if not errors.empty else 0
        a, b = st.columns(2)
        a.metric("Requests", f"{total:,}")
        b.metric("Error rate", f"{failed / total:.2%}" if total else "—")
        statuses["day"] = statuses.requested_hour.dt.floor("D")
        daily = statuses.groupby(["day", "status_class"], as_index=False).requests.sum()
        _chart(px.bar(daily, x="day", y="requests", color="status_class", title="Requests by status, per day"))
        errors["day"] = errors.requested_hour.dt.floor("D")
        per_day = errors.groupby("day", as_index=False)[["requests", "client_errors", "server_errors"]].sum()
        if not per_day.empty:  # a day without requests has no rate: a gap in the lines
            every_day = pd.date_range(per_day.day.min(), per_day.day.max())
            per_day = per_day.set_index("day").reindex(every_day).rename_axis("day").reset_index()
        per_day["error rate"] = (per_day.client_errors + per_day.server_errors) / per_day.requests
        per_day["server error rate"] = per_day.server_errors / per_day.requests
        _chart(
            px.line(
                per_day,
                x="day",
                y=["error rate", "server error rate"],
                markers=True,
                title="Error rate, per day (a day without requests is a gap)",
            )
        )

    body()


def marketing() -> None:
    st.title("Marketing")

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        frame = _cached(q.campaigns)
        a, b, c, d = st.columns(4)
        impressions, clicks = int(frame.impressions.sum()), int(frame.clicks.sum())
        a.metric("Impressions", f"{impressions:,}")
        b.metric("Clicks", f"{clicks:,}")
        c.metric("CTR", f"{clicks / impressions:.2%}" if impressions else "—")
        d.metric("Cost (EUR)", compact_eur(frame.cost_eur.sum()), help=f"exactly {eur(frame.cost_eur.sum())}")
        left, right = st.columns(2)
        with left:
            _chart(px.bar(frame, x="campaign_name", y=["impressions", "clicks"], barmode="group", title="Reach"))
        with right:
            _chart(px.bar(frame, x="campaign_name", y="click_through_rate", title="Click-through rate"))
        _chart(px.bar(frame, x="campaign_name", y="cost_eur", title="Cost by campaign (EUR)"))

    body()


def social() -> None:
    st.title("Social")

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        frame = _cached(q.engagement)
        st.metric("Posts", f"{int(frame.posts.sum()):,}")
        _chart(px.bar(frame, x="product_name", y="total_engagements", title="Engagement by product"))
        _chart(
            px.scatter(
                frame,
                x="posts",
                y="avg_engagements",
                size="total_engagements",
                hover_name="product_name",
                title="Posts vs average engagement",
            )
        )

    body()


def water() -> None:
    st.title("Water quality")
    frame = _cached(q.water_quality)
    frame = frame.assign(samples_outside=frame.samples_under_threshold + frame.samples_over_threshold)
    # The parameter most often outside its limits first.
    parameters = list(frame.groupby("parameter").samples_outside.sum().sort_values(ascending=False).index)
    parameter = st.sidebar.selectbox("Parameter", parameters, key="parameter") if parameters else None
    of_parameter = frame[frame.parameter == parameter]
    worst = of_parameter.groupby("site_name").samples_outside.sum().sort_values(ascending=False)
    chosen_sites = st.sidebar.multiselect(
        "Sites", sorted(of_parameter.site_name.unique()), default=list(worst.index[:3]), key="sites"
    )

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        sites = _cached(q.water_sites)
        months = _cached(q.water_quality)
        a, b, c = st.columns(3)
        a.metric("Sites", f"{len(sites):,}")
        b.metric("Samples", f"{int(months.samples.sum()):,}")
        outside = int(months.samples_under_threshold.sum() + months.samples_over_threshold.sum())
        c.metric("Outside limits", f"{outside / months.samples.sum():.2%}" if len(months) else "—")
        _chart(
            px.scatter(
                sites,
                x="longitude",
                y="latitude",
                size=sites.samples.clip(lower=1),
                color="samples_outside_thresholds",
                hover_name="site_name",
                title="Sites by coordinates (size: samples, colour: samples outside the limits)",
            )
        )
        chosen = months[(months.parameter == parameter) & months.site_name.isin(chosen_sites)]
        unit = chosen.unit.iloc[0] if len(chosen) else ""
        means = every_period(chosen, "sample_month", "site_name", "mean_value", freq="MS", missing=float("nan"))
        figure = px.line(
            means,
            x="sample_month",
            y="mean_value",
            color="site_name",
            markers=True,
            title=f"{parameter}: monthly mean ({unit}) against its limits (a month without samples is a gap)",
        )
        for column, name in (("lower_threshold_value", "lower limit"), ("threshold_value", "upper limit")):
            for limit in chosen[column].dropna().unique()[:1]:
                figure.add_hline(y=limit, line_dash="dash", line_color="red", annotation_text=f"{name} {limit:g}")
        _chart(figure)
        share = months[months.parameter == parameter].pivot_table(
            index="site_name", columns="sample_month", values="share_outside_thresholds", aggfunc="max"
        )
        if share.isna().all().all():
            st.info(f"{parameter} has no threshold in the reference limits.")
            return
        _chart(
            px.imshow(
                share,
                color_continuous_scale="Reds",
                aspect="auto",
                title=f"{parameter}: share of samples outside the limits, per site and month",
            )
        )

    body()


def devices() -> None:
    st.title("Devices")

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        frame = _cached(q.device_events)
        st.metric("Events", f"{int(frame.events.sum()):,}" if not frame.empty else "0")
        if frame.empty:
            return
        latest = frame[frame.event_minute > frame.event_minute.max() - pd.Timedelta(hours=2)]
        _chart(
            px.bar(
                latest,
                x="event_minute",
                y="events",
                color="event_type",
                title="Events per type per minute, last 2 hours",
            )
        )
        frame["hour"] = frame.event_minute.dt.floor("h")
        hourly = every_period(
            frame.groupby(["hour", "event_type"], as_index=False).events.sum(), "hour", "event_type", "events", "h"
        )
        _chart(
            px.area(
                hourly, x="hour", y="events", color="event_type", title="Events per type per hour (0: none that hour)"
            )
        )

    body()


def data_health() -> None:
    st.title("Data health")
    st.caption("Whether the numbers on the other pages can be trusted: how fresh, what was set aside, what dbt found.")

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        fresh = _cached(q.freshness)
        generated_at, tests = _cached(q.dbt_test_results)
        failing = tests[tests.status.isin(["fail", "error"])]
        warning = tests[tests.status == "warn"]
        a, b, c, d = st.columns(4)
        a.metric("Sources with data", f"{len(fresh)}")
        b.metric("Stalest source (min)", f"{fresh.minutes_ago.max():,.1f}" if not fresh.empty else "—")
        c.metric("Quarantined records", f"{int(fresh.rows_quarantined.sum()):,}" if not fresh.empty else "0")
        d.metric("dbt tests failing", f"{len(failing)} of {len(tests)}", f"{len(warning)} warning", delta_color="off")
        _chart(px.bar(fresh, x="source", y="minutes_ago", title="Minutes since the last batch, per source"))
        st.subheader("Last batches")
        st.dataframe(_cached(q.last_batches), hide_index=True, use_container_width=True)
        shapes = _cached(q.shape_changes)
        st.subheader(f"Sources whose shape changed in the last day: {shapes.source.nunique()}")
        if shapes.empty:
            st.caption("None: every batch of the last 24 hours had fields and types its source had before.")
        else:
            st.caption("A new field or type, or a field every batch before carried gone (`lakehouse schema SOURCE`).")
            st.dataframe(shapes, hide_index=True, use_container_width=True)
        left, right = st.columns(2)
        with left:
            reasons = _cached(q.quarantine_reasons)
            _chart(
                px.bar(
                    reasons, x="records", y="reason", color="source", orientation="h", title="Quarantine: top reasons"
                )
            )
        with right:
            rejects = _cached(q.reject_reasons)
            _chart(
                px.bar(
                    rejects,
                    x="records",
                    y="reason",
                    color="source",
                    orientation="h",
                    title="Silver rejects: top reasons",
                )
            )
        st.subheader(f"dbt tests (run of {generated_at or 'never'})")
        if not tests.empty:
            _chart(px.histogram(tests, x="status", color="status", title="Latest dbt test results"))
            st.caption("Failing and warning tests of that run (a warning does not stop the build: read it too).")
            st.dataframe(pd.concat([failing, warning]), hide_index=True, use_container_width=True)

    body()


def silver() -> None:
    st.title("Silver")
    st.caption("The clean, typed, deduplicated rows of each source, and beside them the rows silver set aside.")
    tables = {table.name: table for table in _cached(q.silver_tables)}
    wanted = st.query_params.get("table")
    names = list(tables)
    with st.sidebar:
        name = st.selectbox("Silver table", names, index=names.index(wanted) if wanted in names else 0, key="silver")
        columns = _cached(q.silver_columns, name)
        if not _reader().role.unmasked:  # a filter on a masked column would reveal its values
            columns = [c for c in columns if c not in access.personal(f"silver.{name}")]
        wanted_column = st.query_params.get("column")
        column = st.selectbox(
            "Filter column", columns, index=columns.index(wanted_column) if wanted_column in columns else 0
        )
        contains = st.text_input("contains", value=st.query_params.get("contains", ""))
    table = tables[name]
    total = _cached(q.silver_count, q.SilverQuery(table, column, contains))
    pages = max(1, -(-total // PAGE_SIZE))
    asked = st.query_params.get("page", "1")
    first = min(int(asked), pages) if asked.isdigit() and int(asked) > 0 else 1
    page = st.number_input(f"Page (of {pages:,}, {PAGE_SIZE} rows each)", 1, pages, first)
    rows = _cached(q.silver_rows, q.SilverQuery(table, column, contains, int(page), PAGE_SIZE))
    reasons, rejects = _cached(q.silver_rejects, table.source)
    a, b = st.columns(2)
    a.metric(
        "Rows", f"{total:,}", help=f"of silver.{name}" + (f" whose {column} contains {contains!r}" if contains else "")
    )
    b.metric(f"Rejected ({table.source})", f"{int(reasons.records.sum()):,}" if not reasons.empty else "0")
    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"silver.{name}, by {table.key}")
        st.dataframe(_for_reader(rows, f"silver.{name}"), hide_index=True, use_container_width=True)
    with right:
        st.subheader("Rejected rows")
        st.dataframe(reasons, hide_index=True, use_container_width=True)
        st.dataframe(rejects, hide_index=True, use_container_width=True)


PAGE_SIZE = 50


def operations() -> None:
    st.title("Operations")
    st.caption("Where time goes: every dbt node and build (whoever ran it) and every ingestion batch.")

    @st.fragment(run_every=REFRESH_S)
    def body() -> None:
        builds = _cached(q.build_durations)
        slowest = _cached(q.slowest_nodes)
        a, b, c = st.columns(3)
        a.metric("Builds recorded", f"{len(builds):,}")
        b.metric("Last build (s)", f"{builds.seconds.iloc[-1]:,.1f}" if not builds.empty else "—")
        c.metric("Slowest node (mean s)", f"{slowest.mean_seconds.iloc[0]:,.1f}" if not slowest.empty else "—")
        if slowest.empty:
            st.info("No dbt build recorded yet: `lakehouse build` or a Dagster run records one.")
            return
        _chart(
            px.bar(
                slowest.iloc[::-1],
                x="mean_seconds",
                y="name",
                color="resource_type",
                orientation="h",
                title="Slowest dbt nodes (mean seconds of their last 20 runs)",
            )
        )
        trend = _cached(q.node_trend, tuple(slowest.name.head(5)))
        _chart(px.line(trend, x="finished_at", y="seconds", color="name", markers=True, title="The 5 slowest: trend"))
        left, right = st.columns(2)
        with left:
            _chart(
                px.scatter(
                    builds, x="finished_at", y="seconds", color="via", hover_name="selection", title="dbt builds"
                )
            )
        with right:
            batches = _cached(q.batch_durations)
            _chart(px.scatter(batches, x="finished_at", y="seconds", color="source", title="Ingestion batches"))

    body()


@st.fragment(run_every=REFRESH_S)
def alert_banner() -> None:
    """Every page: the open alerts, until they are resolved."""
    try:
        alerts = _cached_call("open_alerts", ())
    except Exception:  # noqa: BLE001 (the page itself says when the lakehouse does not answer)
        return
    for alert in alerts.itertuples():
        message = re.sub(r"([\\`*_{}\[\]()#+\-.!|>~<$])", r"\\\1", alert.message)  # shown as written
        st.error(f"**{alert.kind.replace('_', ' ')}** — {message} (since {alert.raised_at:%Y-%m-%d %H:%M})")


PAGES = [
    # (page, the least role that sees it): gold for viewers, silver for analysts, the ledger,
    # quarantine and operations for admins (as in the API).
    (st.Page(commerce, title="Commerce", default=True), access.Role.VIEWER),  # the root page: /
    (st.Page(web, title="Web", url_path="web"), access.Role.VIEWER),
    (st.Page(marketing, title="Marketing", url_path="marketing"), access.Role.VIEWER),
    (st.Page(social, title="Social", url_path="social"), access.Role.VIEWER),
    (st.Page(water, title="Water quality", url_path="water"), access.Role.VIEWER),
    (st.Page(devices, title="Devices", url_path="devices"), access.Role.VIEWER),
    (st.Page(silver, title="Silver", url_path="silver"), access.Role.ANALYST),
    (st.Page(data_health, title="Data health", url_path="health"), access.Role.ADMIN),
    (st.Page(operations, title="Operations", url_path="operations"), access.Role.ADMIN),
]


def main() -> None:
    st.set_page_config(page_title="Lakehouse", layout="wide")
    user = _signed_in()
    if user is None:
        st.stop()
    st.session_state.reader = user
    if user is not access.OPEN:
        with st.sidebar:
            st.caption(f"Signed in as {user.name} ({user.role})")
            if st.button("Sign out"):
                del st.session_state.user
                st.rerun()
    alert_banner()
    st.navigation([page for page, least in PAGES if user.role.at_least(least)]).run()


main()
