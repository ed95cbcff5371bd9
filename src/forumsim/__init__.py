"""forumsim: an agent-based simulation of darkweb forum ecosystems.

The model holds no content of any kind: people, fora, posts and shares are numbers.
"""

from forumsim.experiment.files import load_scenario
from forumsim.version import __version__
from forumsim.world.scenario import Scenario, embedded_scenario


def __getattr__(name: str):
    """`Ecosystem`, `run`, `load_sweep` and `run_sweep` load on first use (they pull in
    Mesa, pandas, Dask), so that the command's start and its input errors stay fast."""
    if name == "Ecosystem":
        from forumsim.world.model import Ecosystem
        return Ecosystem
    if name == "run":
        from forumsim.experiment.runner import run
        return run
    if name in ("load_sweep", "run_sweep"):
        from forumsim.experiment import executors, plan
        return {"load_sweep": plan.load_sweep, "run_sweep": executors.run_sweep}[name]
    raise AttributeError(f"module 'forumsim' has no attribute {name!r}")


__all__ = ["Ecosystem", "Scenario", "embedded_scenario", "load_scenario", "load_sweep", "run",
           "run_sweep", "__version__"]
