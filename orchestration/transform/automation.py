"""When seeds, silver and gold rebuild by themselves.

Dagster's `eager()` waits for ever on a dependency that this instance never materialised (a seed
built from the CLI, a bronze table of a source that has no data yet), and never builds what is
missing when the condition is first evaluated. The lakehouse's condition instead:
- builds what is missing (a fresh instance, a new model), once, unless its last run failed;
- rebuilds when anything it reads was updated (an ingestion, a seed, an upstream model);
- waits for missing dbt dependencies (seeds, models) that this tick does not request too, but not
  for bronze or the ledger: they exist from `lakehouse up` on, empty until a source delivers;
- never while it or what it reads is being built.
The CLI records its own ingestions and builds in the instance (`lakehouse.build.dagster_instance`), so
both agree on what is up to date.
"""

from dagster import AssetSelection, AutomationCondition

# `include_sources`: the landing folders, topics and the ledger are external assets (specs), which
# a group selection leaves out by default; without them the web log path, which reads the ledger,
# waited for a ledger materialisation and was left out of the first build of a fresh instance.
WRITTEN_BY_INGESTION = AssetSelection.groups("bronze", "landing", include_sources=True)


def follows_its_inputs() -> AutomationCondition:
    missing = AutomationCondition.missing() & ~AutomationCondition.execution_failed()
    return (
        (missing | AutomationCondition.any_deps_updated()).since_last_handled()
        & ~AutomationCondition.any_deps_missing().ignore(WRITTEN_BY_INGESTION)
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("follows its inputs")
