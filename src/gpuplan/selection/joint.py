"""Joint selection: one model per role, chosen so the whole set fits together.

Picking the best model per role independently (``RoleSelector``) answers "what
is best for captions", not "what can I load *at once* for chat, embeddings and
captions on this GPU". Here the roles are solved together, exactly:

* **constraint** — the distinct loaded models fit ``max_vram_mb`` together, can
  be placed on the GPUs, and number at most ``max_concurrent_models`` — small
  encoders serving only supporting roles (*sidecars*, ``_joint_roles``) take no
  slot;
* **sharing** — one loaded model may serve several roles (a VLM doing both
  captions and descriptions); it is loaded once, so its VRAM and its slot count
  once. Two variants of one model are two loads;
* **objective**, lexicographic, not summed: the *primary* role (chat or
  reasoning, whichever is asked first; else the first role asked) is what the
  set is for, so its model class comes first and supporting roles (embedding,
  caption, keywords, …) never buy memory from it with their quality —
  (1) the primary's model is within one size class of the best that fits on its
  own: no lower in its role priority than the best fitting model one size class
  smaller (``one_class_step``; ``PRIMARY_STEP`` points when none fits);
  (2) as many supporting roles served as possible; (3) the primary's own ranking
  (its priority first, then its bias and quantization preference, as
  ``select_for_role``); (4) the supporting roles' summed priority; (5) the
  profile's bias over the supporting roles, with the same components as the
  single-role order in ``policy``:

  =================  =====================================================
  ``vram_efficient`` fewer preference ranks, less total VRAM, more quality
  ``balanced``       fewer preference ranks, more quality, less total VRAM
  ``quality``        more quality, fewer preference ranks, less total VRAM
  =================  =====================================================

  where preference ranks and quality are summed over supporting roles and VRAM
  over all distinct loads; (6) remaining ties go to the assignment whose picks
  come first in each role's own ranking, roles in the order asked.

  Why (1)-(3): a self-hoster asking for chat, embedding and caption on two 24 GB
  cards runs a 32B beside a small embedder and captioner, not a 70B at 4k
  context with two of the three roles left out; but a better embedder is never
  worth a smaller chat model, and serving a role is never worth two classes
  (a 70B is not stepped down to a 14B for a captioner). So *serving* a role may
  cost the primary up to one class — the highest class that serves the most
  roles wins — and how well a supporting role is served decides only among sets
  whose primary pick is already settled. ``JointSelection.primary_trade`` says
  what was given up and for which roles. With one role the answer is exactly
  ``RoleSelector.select_for_role(role, 1)``. Tensor parallelism is in the
  candidates: a variant that needs several GPUs is one candidate of its own
  shape (``fit``), so a 70B split over two GPUs competes with a 32B on one.

**Exact**, by branch and bound (``_joint_search``), run once per primary pick
within the step, best-ranked first, with that pick already loaded (levels
(1)-(3) are then compared directly: a later pick is searched only for sets that
serve more roles than the best so far, and the loop stops once every role is
served, so the bound argument below is unchanged): candidates no optimal set
can contain are dropped first (another candidate serves the same roles at least
as well for no more VRAM); roles are then searched depth first, each role's
options in its own ranking, and a subtree is cut as soon as an optimistic bound
— each remaining role at its best among what fits now, and a knapsack over the
budget and slots the remaining roles must share (``_joint_bounds``) — cannot
beat the best set found, tie-break included. The registry's 55 models for all
ten roles take ~10-35 ms; a 774-candidate registry-shaped stress set (fine-tune
clones) under 0.7 s (``bench/bench_select.py``). Random instances with many
roles, fewer slots than roles and near-identical priorities are the hard case
(a set cover under a knapsack): ``node_limit`` bounds them, and a result that
hit it is the best found, marked ``optimal = False``.
"""

from __future__ import annotations

from collections.abc import Sequence

from gpuplan.errors import ModelError
from gpuplan.models.registry import Role, parse_role
from gpuplan.selection._joint_explain import Given, explain
from gpuplan.selection._joint_result import (
    Dropped,
    JointSelection,
    LoadedModel,
    PrimaryTrade,
    RolePick,
    UnservedRole,
)
from gpuplan.selection._joint_roles import (
    DEFAULT_NODE_LIMIT,
    PRIMARY_ROLES,
    PRIMARY_STEP,
    SIDECAR_MAX_MB,
    Supporting,
    is_sidecar,
    one_class_step,
    primary_role,
    slots_taken,
)
from gpuplan.selection._joint_search import Search, objective
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import SelectionPolicy, rank_key

__all__ = [
    "DEFAULT_NODE_LIMIT",
    "PRIMARY_ROLES",
    "PRIMARY_STEP",
    "SIDECAR_MAX_MB",
    "Dropped",
    "JointSelection",
    "LoadedModel",
    "PrimaryTrade",
    "RolePick",
    "UnservedRole",
    "is_sidecar",
    "objective",
    "primary_role",
    "select_joint",
    "slots_taken",
]


def _ranked_fitting(
    candidates: Sequence[Candidate], role: Role, policy: SelectionPolicy
) -> list[Candidate]:
    fitting = [c for c in candidates if c.serves(role) and policy.admits(c)]
    return sorted(fitting, key=lambda c: rank_key(c, role, policy))


def select_joint(
    candidates: Sequence[Candidate],
    roles: Sequence[Role | str],
    policy: SelectionPolicy,
    *,
    node_limit: int = DEFAULT_NODE_LIMIT,
    prune: bool = True,
    primary_step: int | None = None,
) -> JointSelection:
    """The best set of models serving ``roles`` together under ``policy`` (exact).

    ``primary_step`` is how many role-priority points the primary may give up so
    that more roles are served (0: the primary's top priority, literally); None, the
    default, is one size class down from its best pick (``one_class_step``).
    ``prune=False`` switches the dominance pre-filter and the knapsack bounds
    off (for testing that they never change the answer).
    """
    if primary_step is not None and primary_step < 0:
        raise ModelError(f"primary_step is {primary_step}", hint="use 0 or more points")
    checked = _check_roles(roles)
    unique = _unique(candidates)
    ranked = {role: _ranked_fitting(unique, role, policy) for role in checked}
    primary = primary_role(checked)
    supporting = [role for role in checked if role != primary]
    top = ranked[primary]
    if primary_step is None:
        primary_step = one_class_step(top, primary)
    # The primary's options: every pick within one size class of its best, best first
    # (the ranking starts with priority, so this is a prefix of it).
    floor = top[0].role_priority[primary] - primary_step if top else 0
    tier = [c for c in top if c.role_priority[primary] >= floor]
    problem = Supporting(unique, supporting, ranked, policy, tier, prune=prune)
    best: tuple[tuple[int, ...], int, Search] | None = None
    first: Search | None = None
    nodes, complete = 0, True
    for position, pick in enumerate(tier or [None]):
        # A later primary pick ranks below the earlier ones, so it can only win by
        # serving more supporting roles than the best so far: ask for that.
        served = best[0][0] if best is not None else -1
        if best is not None and served >= len(supporting):
            break
        search = problem.search(pick, max(1, node_limit - nodes), must_serve=served + 1)
        nodes += search.nodes
        complete &= search.complete
        if position == 0:
            first = search
        if not search.found and best is not None:
            if not complete:
                break
            continue
        value = search.best or (0,)
        # Lexicographic: the primary within its step; then how many supporting roles
        # are served, then the primary's own ranking (priority first), then the
        # supporting roles' priority and the bias over the whole set, then pick ranks.
        key = (value[0], -position, *value[1:], *(-i for i in search.best_indices))
        if best is None or key > best[0]:
            best = (key, position, search)
        if not complete:
            break
    assert best is not None
    _, position, search = best
    chosen = _assignment(checked, primary, supporting, problem, tier, position, search)
    given_up: Given | None = None
    if position > 0 and first is not None:
        before = _assignment(checked, primary, supporting, problem, tier, 0, first)
        served_then = tuple(r for r, c in zip(checked, before, strict=True) if c is not None)
        given_up = Given(tier[0], served_then)
    return explain(checked, chosen, ranked, unique, policy, nodes, complete, given_up, primary_step)


def _assignment(
    roles: tuple[Role, ...],
    primary: Role,
    supporting: list[Role],
    problem: Supporting,
    tier: list[Candidate],
    position: int,
    search: Search,
) -> list[Candidate | None]:
    """Each role's candidate (None: unserved) in request order, from one search's best."""
    chosen: list[Candidate | None] = [None] * len(roles)
    if tier:
        chosen[roles.index(primary)] = tier[position]
    for depth, option in enumerate(search.best_choice):
        if option is not None:
            chosen[roles.index(supporting[problem.order[depth]])] = problem.loads[option.load]
    return chosen


def _check_roles(roles: Sequence[Role | str]) -> tuple[Role, ...]:
    checked = tuple(parse_role(role) for role in roles)
    if not checked:
        raise ModelError("no roles to select for", hint="name at least one role, e.g. chat")
    duplicates = sorted({r for r in checked if checked.count(r) > 1})
    if duplicates:
        raise ModelError(
            f"role(s) {', '.join(duplicates)} asked for more than once",
            hint="name each role once; one model per role is chosen",
        )
    return checked


def _unique(candidates: Sequence[Candidate]) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate.key in seen and seen[candidate.key] != candidate:
            raise ModelError(
                f"two different candidates share the key {candidate.key!r}",
                hint="each (model, quantization) pair may appear once",
            )
        seen[candidate.key] = candidate
    return list(seen.values())
