"""What a drill declares it will do, before it does it: each step and check once (Declared), and
the plan's entry for it (Planned). `drtests plan` and the drill's record read the same
declarations, so the plan cannot drift from what the drill records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Planned:
    phase: str
    kind: str  # "step": an action, recorded in the evidence's steps; "check": in its checks; "output": a file
    name: str  # the name it is recorded under ("<each ...>" at the end: one per type or index)
    detail: str = ""  # what exactly: the command, the wait, the rule

    @property
    def each(self) -> bool:
        return self.name.endswith(">") and "<each " in self.name


@dataclass(frozen=True)
class Declared:
    """A step or a check, declared once: `drtests plan` lists it (`planned`) and the drill records
    it under the same name (called with the values of its {placeholders})."""

    kind: str  # "step" | "check" | "output"
    template: str  # the name; {type}, {index}, {unit}, ... filled per drill

    def __call__(self, **values: object) -> str:
        """The name it is recorded under."""
        return self.template.format(**values) if values else self.template

    def planned(self, phase: str, detail: str = "", **values: object) -> Planned:
        return Planned(phase, self.kind, self(**values), detail)


def step(template: str) -> Declared:
    return Declared("step", template)


def check(template: str) -> Declared:
    return Declared("check", template)


EACH_TYPE, EACH_INDEX = "<each type>", "<each index>"  # a plan's name for one check per type or index
