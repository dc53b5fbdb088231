"""Tiered assignment (分级处理): which office of an institution handles a case, by the routing policy."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from services.common.datafiles import load_yaml
from services.routing.domain import DirectoryNode

DEFAULT_ROUTING_POLICY_FILE = Path(__file__).parent / "data" / "routing_policy.yaml"
RULE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID_18 = re.compile(r"^\d{17}[\dXx]$")
_ID_15 = re.compile(r"^\d{15}$")


# --- the policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRule:
    """One rule of the policy: conditions that must all hold, and how far up the case goes."""

    name: str
    description: str
    amount_at_least_fen: int | None = None
    major: bool = False
    elderly: bool = False
    repeat: bool = False
    node_breaches_at_least: int | None = None
    breach_window_days: int | None = None
    at_most_level: int | None = None
    up_levels: int | None = None

    def matches(self, facts: CaseFacts) -> bool:
        if self.amount_at_least_fen is not None and facts.amount_fen < self.amount_at_least_fen:
            return False
        if self.major and not facts.major:
            return False
        if self.elderly and not facts.elderly:
            return False
        if self.repeat and not facts.repeat:
            return False
        return not (
            self.node_breaches_at_least is not None
            and facts.node_breaches < self.node_breaches_at_least
        )

    @property
    def action(self) -> str:
        if self.at_most_level is not None:
            return f"at most level {self.at_most_level}"
        return f"up {self.up_levels} level{'s' if self.up_levels != 1 else ''}"


@dataclass(frozen=True)
class ScorecardThresholds:
    """The bars of the positive and negative lists (正负面清单); see routing_policy.yaml."""

    positive_min_cases: int = 10
    positive_min_timely_rate: float = 0.95
    positive_max_breaches: int = 0
    positive_max_extension_rate: float = 0.2
    positive_max_return_rate: float = 0.1
    negative_timely_rate_below: float = 0.8
    negative_min_cases_for_rate: int = 5
    negative_breaches_at_least: int = 3


@dataclass(frozen=True)
class RoutingPolicy:
    """The versioned routing policy file, validated."""

    version: str
    tiers: tuple[TierRule, ...]
    bounce_limit: int = 2
    notices: tuple[float, ...] = (0.6, 0.8)
    elderly_age: int = 60
    scorecard: ScorecardThresholds = ScorecardThresholds()

    @property
    def breach_window_days(self) -> int:
        """The days over which the caller counts the resolved office's breaches (0: no rule asks)."""
        return max((r.breach_window_days or 0 for r in self.tiers), default=0)


def load_routing_policy(path: str | Path | None = None) -> RoutingPolicy:
    """Load the routing policy at `path`, else the packaged file."""
    return load_yaml(
        path if path is not None else DEFAULT_ROUTING_POLICY_FILE,
        parse_routing_policy,
        "routing policy",
    )


_POLICY_KEYS = {"version", "tiers", "bounce_limit", "notices", "elderly_age", "scorecard"}
_RULE_KEYS = {"name", "description", "when", "at_most_level", "up_levels"}
_CONDITIONS = {
    "amount_at_least_yuan",
    "major",
    "elderly",
    "repeat",
    "node_breaches_at_least",
    "breach_window_days",
}
_POSITIVE_KEYS = {
    "min_cases",
    "min_timely_rate",
    "max_breaches",
    "max_extension_rate",
    "max_return_rate",
}
_NEGATIVE_KEYS = {"timely_rate_below", "min_cases_for_rate", "breaches_at_least"}
_RATE_KEYS = {"min_timely_rate", "max_extension_rate", "max_return_rate", "timely_rate_below"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_routing_policy(raw: object) -> RoutingPolicy:
    """Validate a parsed routing policy document; ValueError names the rule and field at fault."""
    if not isinstance(raw, Mapping):
        raise ValueError("the routing policy must be a mapping")
    unknown = set(raw) - _POLICY_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    version = raw.get("version")
    if not _is_number(version) and not (isinstance(version, str) and version.strip()):
        raise ValueError("version: must be a non-empty string")

    tiers_raw = raw.get("tiers")
    if tiers_raw is None:
        tiers_raw = []
    if not isinstance(tiers_raw, list):
        raise ValueError("tiers: must be a list of rules")
    tiers: list[TierRule] = []
    for i, body in enumerate(tiers_raw):
        rule = _parse_rule(i, body)
        if any(r.name == rule.name for r in tiers):
            raise ValueError(f"tier {rule.name}: name: used by an earlier rule")
        tiers.append(rule)
    # The caller counts an office's breaches once, over one window; rules with different windows
    # would be judged against a count over the wrong span.
    windowed = [r for r in tiers if r.breach_window_days is not None]
    for rule in windowed[1:]:
        if rule.breach_window_days != windowed[0].breach_window_days:
            raise ValueError(
                f"tier {rule.name}: breach_window_days: {rule.breach_window_days} differs from "
                f"{windowed[0].breach_window_days} in tier {windowed[0].name}; all rules that count "
                "breaches must use one window"
            )

    bounce_limit = raw.get("bounce_limit", 2)
    if not _is_int(bounce_limit) or bounce_limit < 0:
        raise ValueError(f"bounce_limit: must be a whole number, 0 or more, not {bounce_limit!r}")

    notices_raw = raw.get("notices", [0.6, 0.8])
    if not isinstance(notices_raw, list) or not all(
        _is_number(f) and 0 < f < 1 for f in notices_raw
    ):
        raise ValueError(
            f"notices: must be a list of fractions between 0 and 1 (breach at 1 is implicit), "
            f"not {notices_raw!r}"
        )
    if any(b <= a for a, b in itertools.pairwise(notices_raw)):
        raise ValueError(f"notices: must rise, each fraction above the one before: {notices_raw}")

    elderly_age = raw.get("elderly_age", 60)
    if not _is_int(elderly_age) or not 1 <= elderly_age <= 150:
        raise ValueError(f"elderly_age: must be a whole number of years, not {elderly_age!r}")

    return RoutingPolicy(
        version=str(version).strip(),
        tiers=tuple(tiers),
        bounce_limit=bounce_limit,
        notices=tuple(float(f) for f in notices_raw),
        elderly_age=elderly_age,
        scorecard=_parse_scorecard(raw.get("scorecard")),
    )


def _parse_rule(index: int, body: object) -> TierRule:
    if not isinstance(body, Mapping):
        raise ValueError(f"tiers[{index}]: must be a mapping with name, when and an action")
    name = body.get("name")
    if not isinstance(name, str) or not RULE_NAME_PATTERN.match(name):
        raise ValueError(
            f"tiers[{index}]: name: must be lowercase ascii, digits and '_', not {name!r}"
        )

    def fail(fld: str, message: str) -> ValueError:
        return ValueError(f"tier {name}: {fld}: {message}")

    unknown = set(body) - _RULE_KEYS
    if unknown:
        raise fail("(keys)", f"unknown keys {sorted(unknown)}")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be text")

    when = body.get("when")
    if not isinstance(when, Mapping) or not when:
        raise fail("when", "must be a mapping of at least one condition")
    unknown = set(when) - _CONDITIONS
    if unknown:
        raise fail(
            "when", f"unknown condition {sorted(unknown)}; known: {', '.join(sorted(_CONDITIONS))}"
        )
    amount_fen: int | None = None
    if "amount_at_least_yuan" in when:
        yuan = when["amount_at_least_yuan"]
        try:
            fen = Decimal(str(yuan)) * 100 if _is_number(yuan) else None
        except InvalidOperation:
            fen = None
        if fen is None or fen <= 0 or fen != fen.to_integral_value():
            raise fail(
                "when.amount_at_least_yuan",
                f"must be an amount of yuan above 0, to the fen, not {yuan!r}",
            )
        amount_fen = int(fen)
    flags: dict[str, bool] = {}
    for flag in ("major", "elderly", "repeat"):
        if flag in when:
            if when[flag] is not True:
                raise fail(f"when.{flag}", f"can only be true, not {when[flag]!r}")
            flags[flag] = True
    breaches = when.get("node_breaches_at_least")
    window = when.get("breach_window_days")
    if breaches is not None and (not _is_int(breaches) or breaches < 1):
        raise fail("when.node_breaches_at_least", f"must be a whole number >= 1, not {breaches!r}")
    if (breaches is None) != (window is None):
        raise fail(
            "when.breach_window_days" if window is None else "when.node_breaches_at_least",
            "node_breaches_at_least and breach_window_days go together",
        )
    if window is not None and (not _is_int(window) or window < 1):
        raise fail(
            "when.breach_window_days", f"must be a whole number of days >= 1, not {window!r}"
        )

    at_most = body.get("at_most_level")
    up = body.get("up_levels")
    if (at_most is None) == (up is None):
        raise fail("(action)", "needs exactly one of at_most_level and up_levels")
    if at_most is not None and (not _is_int(at_most) or at_most < 0):
        raise fail("at_most_level", f"must be a level, 0 (head office) or more, not {at_most!r}")
    if up is not None and (not _is_int(up) or up < 1):
        raise fail("up_levels", f"must be a whole number >= 1, not {up!r}")
    return TierRule(
        name=name,
        description=" ".join(description.split()),
        amount_at_least_fen=amount_fen,
        node_breaches_at_least=breaches,
        breach_window_days=window,
        at_most_level=at_most,
        up_levels=up,
        **flags,
    )


def _parse_scorecard(raw: object) -> ScorecardThresholds:
    defaults = ScorecardThresholds()
    if raw is None:
        return defaults
    if not isinstance(raw, Mapping):
        raise ValueError("scorecard: must be a mapping with positive and negative")
    unknown = set(raw) - {"positive", "negative"}
    if unknown:
        raise ValueError(f"scorecard: unknown keys {sorted(unknown)}")
    values: dict[str, int | float] = {}
    for side, keys in (("positive", _POSITIVE_KEYS), ("negative", _NEGATIVE_KEYS)):
        body = raw.get(side) or {}
        if not isinstance(body, Mapping):
            raise ValueError(f"scorecard.{side}: must be a mapping")
        unknown = set(body) - keys
        if unknown:
            raise ValueError(f"scorecard.{side}: unknown keys {sorted(unknown)}")
        for key, value in body.items():
            where = f"scorecard.{side}.{key}"
            if key in _RATE_KEYS:
                if not _is_number(value) or not 0 <= value <= 1:
                    raise ValueError(f"{where}: must be a fraction from 0 to 1, not {value!r}")
                values[f"{side}_{key}"] = float(value)
            else:
                if not _is_int(value) or value < 0:
                    raise ValueError(f"{where}: must be a whole number, 0 or more, not {value!r}")
                values[f"{side}_{key}"] = value
    result = ScorecardThresholds(**values)  # type: ignore[arg-type]
    # No office may qualify for both lists.
    if result.positive_min_timely_rate < result.negative_timely_rate_below:
        raise ValueError(
            "scorecard.positive.min_timely_rate: below negative.timely_rate_below, so an office "
            "could be on both lists"
        )
    if result.positive_max_breaches >= result.negative_breaches_at_least:
        raise ValueError(
            "scorecard.positive.max_breaches: reaches negative.breaches_at_least, so an office "
            "could be on both lists"
        )
    return result


# --- deciding the office -------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFacts:
    """What the tier rules look at. `node_breaches`: the resolved office's deadline breaches in the
    last `RoutingPolicy.breach_window_days` days."""

    amount_fen: int = 0
    major: bool = False
    elderly: bool = False
    repeat: bool = False
    node_breaches: int = 0


@dataclass(frozen=True)
class TierDecision:
    """The office that handles the case, the office resolved from the text, and why."""

    node: DirectoryNode
    from_node: DirectoryNode
    rules: tuple[str, ...]  # the rules that applied, in policy order (even when none moved it)
    reason: str

    @property
    def moved(self) -> bool:
        return self.node.id != self.from_node.id


def _ancestors(node: DirectoryNode, by_id: Mapping[str, DirectoryNode]) -> list[DirectoryNode]:
    """The node and the offices above it, nearest first; stops at a parent missing from by_id."""
    chain = [node]
    seen = {node.id}
    while chain[-1].parent_id and chain[-1].parent_id in by_id:
        parent = by_id[chain[-1].parent_id]
        if parent.id in seen:  # a loop in the directory: stop rather than spin
            break
        seen.add(parent.id)
        chain.append(parent)
    return chain


def _target_index(rule: TierRule, chain: list[DirectoryNode]) -> int:
    if rule.at_most_level is not None:
        for i, office in enumerate(chain):
            if office.level <= rule.at_most_level:
                return i
        return len(chain) - 1  # the chain ends before that level: as high as it goes
    return min(rule.up_levels or 0, len(chain) - 1)


def _label(node: DirectoryNode) -> str:
    return f"{node.name} ({node.id}, level {node.level})"


def apply_tiers(
    policy: RoutingPolicy,
    facts: CaseFacts,
    node: DirectoryNode,
    by_id: Mapping[str, DirectoryNode],
) -> TierDecision:
    """The office that handles a case the directory resolved to `node`.

    Every applying rule names how senior the handling office must at least be; the case goes to the
    most senior of those (rules do not add up). An inactive office is passed over for the next
    active one above it; with none, the case stays at `node`.
    """
    applied = [r for r in policy.tiers if r.matches(facts)]
    names = tuple(r.name for r in applied)
    if not applied:
        return TierDecision(node, node, (), f"no tier rule applies; stays at {_label(node)}")
    chain = _ancestors(node, by_id)
    wanted = max(_target_index(r, chain) for r in applied)
    deciding = [r for r in applied if _target_index(r, chain) == wanted]
    why = ", ".join(f"{r.name} ({r.action})" for r in deciding)
    if wanted == 0:
        where = "has no office above" if len(chain) == 1 else "is senior enough already"
        return TierDecision(node, node, names, f"{why}: {_label(node)} {where}; stays")
    index = next((i for i in range(wanted, len(chain)) if chain[i].active), None)
    if index is None:
        return TierDecision(
            node, node, names, f"{why}: no active office above {_label(node)}; stays"
        )
    reason = f"{why}: from {_label(node)} to {_label(chain[index])}"
    if index != wanted:
        skipped = ", ".join(c.id for c in chain[wanted:index])
        reason += f" (passing over inactive {skipped})"
    return TierDecision(chain[index], node, names, reason)


# --- elderly complainants ------------------------------------------------------------------------


def birth_date(id_number_or_birth_date: str) -> date | None:
    """The birth date in an 18-digit resident ID (positions 7–14), a 15-digit first-generation ID
    (positions 7–12, born 19xx) or an ISO date; None when there is none to read."""
    text = (id_number_or_birth_date or "").strip()
    try:
        if _ID_18.match(text):
            return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        if _ID_15.match(text):
            return date(1900 + int(text[6:8]), int(text[8:10]), int(text[10:12]))
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        return None  # digits that are not a date (a mistyped number)
    return None


def is_elderly(id_number_or_birth_date: str, on: date, age: int) -> bool:
    """Whether the person is `age` or older on `on`; False when the birth date is unknown."""
    born = birth_date(id_number_or_birth_date)
    if born is None or born > on:
        return False
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return years >= age
