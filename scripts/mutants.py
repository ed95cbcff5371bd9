"""Do the tests catch a broken mechanism? Apply each mutant below to a copy of the
source, run the model's tests against it, and count the mutants no test catches.

Each mutant changes one line of `src/forumsim/world/` so that one mechanism stops doing
what it should (switched off, reversed, or no longer fading). A mutant is killed when
some test fails; one that survives is a mechanism whose consequence no test checks.

    python scripts/mutants.py [--workers 2] [--only NAME,...] [--tests "tests/..."]
        [--rev REV]

The source and tests are those of the working tree when the command starts (or, with
`--rev`, of a commit), copied once, so editing them meanwhile does not mix in.

Prints one line per mutant (killed, with the first failing test, or SURVIVED) and the
survival rate.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ("tests/test_mechanisms.py tests/test_interventions.py tests/test_agents.py "
         "tests/test_access.py tests/test_model.py tests/test_ties.py "
         "tests/test_measurement.py tests/test_participation.py")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # under src/forumsim/world/
    old: str
    new: str


MUTANTS = [
    # the ten that survived the suite as measured from outside (issue 21)
    Mutant("deterrence desistance off", "model.py",
           "b.deterrence_desist_prob * p.risk_aversion[active])",
           "0.0 * p.risk_aversion[active])"),
    # "word of mouth off" (the displaced telling their contacts where they went): the
    # mechanism moved nothing at any setting and was removed (issue 21).
    Mutant("hiding ignored", "interventions.py",
           "chance = spec.data_seized * (1.0 - eco.behaviour.hiding_effect * forum.hidden)",
           "chance = spec.data_seized"),
    Mutant("swamped fora never tighten", "agents.py",
           "if forum.backlog_days >= eco.behaviour.tighten_backlog_days and "
           "forum.access.name == \"open\":",
           "if False:"),
    Mutant("handover to the least thanked", "model.py",
           "rows[np.argmax(table.thanks[rows])]", "rows[np.argmin(table.thanks[rows])]"),
    Mutant("lurkers leave whatever the pull", "agents.py",
           "dry = at_home & (eco.pull[visits.forums] < b.dry_pull)", "dry = at_home"),
    Mutant("novelty never fades", "model.py",
           "return 1.0 + b.novelty_boost * np.exp(-(self.day - self.people.entered[people])\n"
           "                                              / b.novelty_days)",
           "return 1.0 + b.novelty_boost + 0.0 * people"),
    Mutant("thanks boost ignored", "agents.py",
           "boost = 1.0 + b.thanks_share_boost * (1.0 - np.exp(-thanks / b.thanks_scale))",
           "boost = 1.0 + 0.0 * thanks"),
    Mutant("restricted_pull_share ignored", "pull.py",
           "np.where(full, 1.0,\n", "np.where(full, 1.0, 1.0 +\n 0.0 *"),
    Mutant("new-forum appeal never fades", "relocation.py",
           "* np.exp(-(eco.day - founded[fresh]) / b.novelty_days))", ")"),
    # more mechanisms, one mutant each
    Mutant("herding off", "relocation.py",
           "term = b.herding_weight * event.recent_destinations(eco.day, b.herding_days, n_fora)",
           "term = 0.0 * event.recent_destinations(eco.day, b.herding_days, n_fora)"),
    Mutant("announcements off", "relocation.py",
           "term[event.rally] += np.log1p(b.announcement_weight)", "pass"),
    Mutant("contacts ignored when joining", "kernels/join.py",
           "weight[f] = size[f] * (1.0 + contact_weight * pull) * bias[i, f]",
           "weight[f] = size[f] * bias[i, f]"),
    # "status loyalty ignored": status loyalty moved nothing and was removed (issue 21).
    Mutant("status retention ignored", "relocation.py",
           "status = np.where(p.role[people] >= Rank.VIP, b.status_retention, 0.0)",
           "status = np.zeros(len(people))"),
    Mutant("tie retention ignored", "relocation.py",
           "embedded = 1.0 - np.exp(-b.tie_retention * eco.ties.embeddedness(people, eco.day))",
           "embedded = np.zeros(len(people))"),
    Mutant("caution ignored", "agents.py",
           "keep = trusted | draws.chance(Purpose.CAUTIOUS_TIE, day, repliers,",
           "keep = (trusted | True) | draws.chance(Purpose.CAUTIOUS_TIE, day, repliers,"),
    Mutant("vetting lets everyone in", "agents.py",
           "passed = mine[: int(forum.vetting_left)]", "passed = mine"),
    Mutant("no invitations", "agents.py",
           "inviting = closed & eco.draws.chance(Purpose.INVITE, eco.day, visits.people, chance)",
           "inviting = closed & False"),
    Mutant("cross-promotion tells nobody", "agents.py",
           "            eco.behaviour.cross_promotion_prob)", "            0.0)"),
    Mutant("applications never accepted", "agents.py",
           "Purpose.ACCEPT, eco.day, people, eco.behaviour.application_accept_prob, forum.key)",
           "Purpose.ACCEPT, eco.day, people, 0.0, forum.key)"),
    Mutant("no bans", "agents.py",
           "if table.warnings[row] >= eco.behaviour.warnings_before_ban:", "if False:"),
    Mutant("no outages", "agents.py", "if outage < risk:", "if False:"),
    Mutant("understaffing ignored", "agents.py",
           "risk = b.outage_rate_per_day * (1.0 - skill) * (1.0 + b.understaffed_outage_factor",
           "risk = b.outage_rate_per_day * (1.0 - skill) * (1.0 + 0.0"),
    Mutant("no successors", "relocation.py",
           "if not staff or eco.draws.one(Purpose.SUCCESSOR, eco.day, forum.key) >= "
           "b.successor_prob:",
           "if True:"),
    Mutant("successors never stricter", "relocation.py",
           "if eco.draws.one(Purpose.STRICTER, eco.day, old.key) < "
           "eco.behaviour.successor_stricter_prob:",
           "if False:"),
    Mutant("no foundings", "relocation.py",
           "if eco.draws.one(Purpose.FOUNDING, day) >= b.founding_rate_per_day:", "if True:"),
    Mutant("nobody comes back", "relocation.py",
           "back = np.flatnonzero(eco._return_day == eco.day)",
           "back = np.flatnonzero(eco._return_day == -2)"),
    Mutant("replies bring nobody back", "pull.py",
           "return 1.0 + b.community_weight * (1.0 - np.exp(-eco.people.replies_now(",
           "return 1.0 + 0.0 * (1.0 - np.exp(-eco.people.replies_now("),
    Mutant("VIP material counts as any", "agents.py",
           "b.vip_material_weight, b.vip_contributions,", "1.0, b.vip_contributions,"),
    Mutant("nobody drifts", "kernels/choice.py",
           "if not has_home or (better and draw(drift_base, person) < drift_prob):",
           "if not has_home:"),
    Mutant("nobody gives up", "relocation.py",
           "quits = eco.draws.chance(Purpose.GIVE_UP, eco.day, stranded,",
           "quits = 0 > eco.draws.uniform(Purpose.GIVE_UP, eco.day, stranded) + 0 * ("),
    Mutant("deterrence drop ignored", "model.py",
           "return 1.0 - b.deterrence_activity_drop * float(np.exp(-elapsed / b.deterrence_days))",
           "return 1.0"),
    Mutant("visibility ignores the listed fora", "relocation.py",
           "return found / at_start if at_start > 0 else float(listed > 0)", "return 1.0"),
    Mutant("thanks tie nobody", "agents.py",
           "eco.ties.interact(thankers, thanked, eco.day, strength=0.5)", "pass"),
    Mutant("private exchanges count as plain replies", "agents.py",
           "strength=np.where(private, 3.0, 1.0))", "strength=1.0)"),
    Mutant("the displaced keep a gone home's pull", "pull.py",
           "has_home = (home >= 0) & ~gone[np.maximum(home, 0)]", "has_home = home >= 0"),
    Mutant("ties never fade", "ties.py",
           "faded = np.exp2(-(day - self.edges.last[rows]) / self.half_life_days)",
           "faded = 1.0"),
    Mutant("material always as usual", "pull.py",
           "pull[forum.id] = (forum.material + prior) / (forum.usual_material + prior) / disorder",
           "pull[forum.id] = 1.0 / disorder"),
    Mutant("reports do not put people off", "pull.py",
           "disorder = 1.0 + b.report_pull_penalty * waiting", "disorder = 1.0"),
]


def snapshot(rev: str | None, into: Path) -> Path:
    """The source, tests and pyproject.toml of the working tree (or of commit `rev`)."""
    if rev is None:
        for part in ("src", "tests"):
            shutil.copytree(ROOT / part, into / part)
        shutil.copy(ROOT / "pyproject.toml", into)
    else:
        archive = subprocess.run(["git", "archive", rev, "src", "tests", "pyproject.toml"],
                                 cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_mutant(mutant: Mutant, tests: str, timeout: int,
               base: Path) -> tuple[Mutant, str, float]:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        shutil.copytree(base, tmp, dirs_exist_ok=True)
        src = Path(tmp) / "src"
        target = src / "forumsim" / "world" / mutant.path
        text = target.read_text()
        if text.count(mutant.old) != 1:
            return mutant, f"NOT APPLIED ({text.count(mutant.old)} matches)", 0.0
        target.write_text(text.replace(mutant.old, mutant.new))
        env = {**os.environ, "PYTHONPATH": str(src)}
        try:
            done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q",
                                   "-p", "no:cacheprovider", *tests.split()],
                                  cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return mutant, "killed (timeout)", time.perf_counter() - began
    seconds = time.perf_counter() - began
    if done.returncode == 0:
        return mutant, "SURVIVED", seconds
    failed = re.search(r"FAILED (\S+)", done.stdout)
    return mutant, f"killed by {failed.group(1) if failed else 'an error'}", seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--tests", default=TESTS)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--rev", help="a commit to take the source and tests from")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.only is None or m.name in args.only.split(",")]
    began = time.perf_counter()
    survived = applied = 0
    with tempfile.TemporaryDirectory(prefix="mutants-base-") as base, \
            ThreadPoolExecutor(args.workers) as pool:
        snapshot(args.rev, Path(base))
        for mutant, verdict, seconds in pool.map(
                lambda m: run_mutant(m, args.tests, args.timeout, Path(base)), chosen):
            print(f"{mutant.name:45s} {verdict} ({seconds:.0f} s)", flush=True)
            applied += not verdict.startswith("NOT")
            survived += verdict == "SURVIVED"
    print(f"\n{survived} of {applied} mutants survived "
          f"({time.perf_counter() - began:.0f} s; tests: {args.tests})")


if __name__ == "__main__":
    main()
