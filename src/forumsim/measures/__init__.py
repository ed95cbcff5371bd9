"""Pure measures on numbers and graphs, with no model and no files: resilience metrics
(loss, recovery, triangle, key-player dependence), inequality, intervals, and key-player
measures of a tie network (fragmentation, centralities, target selection). The bottom
layer: every other layer may use it, and it imports none of them."""
