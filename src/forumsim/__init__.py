"""forumsim: an agent-based simulation of darkweb forum ecosystems.

The model holds no content of any kind: people, fora, posts and shares are numbers.
"""

from forumsim.model import Ecosystem
from forumsim.scenario import Scenario, embedded_scenario, load_scenario

__version__ = "0.1.0"
__all__ = ["Ecosystem", "Scenario", "embedded_scenario", "load_scenario", "__version__"]
