"""Access regimes of a forum: who may register, whether the address is public, and
whether registering gives full access at once or only after staff accept a contribution."""

from __future__ import annotations

from forumsim.world.scenario import AccessName


class AccessPolicy:
    """Base class: an access regime. Subclasses differ in their class attributes."""

    name: AccessName
    publicly_listed: bool  # address on the public link list (semi-open market)
    full_access_on_join: bool  # False: full access only after an accepted contribution
    strictness: int  # ordering used when admins tighten access
    by_invitation = False  # only the invited (or vouched for) may register

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class OpenAccess(AccessPolicy):
    """Nickname and password: anyone who knows the address gets in, with full access."""

    name = "open"
    publicly_listed = True
    full_access_on_join = True
    strictness = 0


class RestrictedAccess(AccessPolicy):
    """Anyone may register, but full access needs a contribution that staff accept."""

    name = "restricted"
    publicly_listed = True
    full_access_on_join = False
    strictness = 1


class ClosedAccess(AccessPolicy):
    """Address not listed publicly; only people invited or vouched for by a VIP or staff."""

    name = "closed"
    publicly_listed = False
    full_access_on_join = True
    strictness = 2
    by_invitation = True


POLICIES: dict[str, type[AccessPolicy]] = {
    "open": OpenAccess,
    "restricted": RestrictedAccess,
    "closed": ClosedAccess,
}


def policy(name: str) -> AccessPolicy:
    """The access policy object for a regime name."""
    return POLICIES[name]()


def stricter(current: AccessPolicy) -> AccessPolicy:
    """The next stricter regime (closed stays closed)."""
    order = sorted(POLICIES.values(), key=lambda cls: cls.strictness)
    return order[min(current.strictness + 1, len(order) - 1)]()
