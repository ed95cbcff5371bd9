"""The preload of a sweep's process pool's forkserver, imported there and nowhere else.

It loads the workers' code once (each worker forks from the forkserver with it), and has
the kernel kill the forkserver the moment the sweep's process dies (Linux's parent-death
signal). Each worker asks the same of the forkserver as it starts, so a sweep killed with
SIGKILL takes its whole pool with it at once. (Workers keep the forkserver's liveness
pipe open, so the forkserver would otherwise wait for them while they wait for it.)
"""

from forumsim.experiment import executors

executors.die_with_parent()
