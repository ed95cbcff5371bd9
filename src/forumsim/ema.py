"""EMA Workbench interoperability (see `forumsim.analysis.ema`): `replicator_model` turns a
forumsim sweep file into an EMA `ReplicatorModel`, `sweep_results` a sweep folder into EMA's
`(experiments, outcomes)`."""

from forumsim.analysis.ema import (
    ForumsimFunction,
    ema_name,
    replicator_model,
    scenario_path,
    sweep_results,
)

__all__ = ["ForumsimFunction", "ema_name", "replicator_model", "scenario_path",
           "sweep_results"]
