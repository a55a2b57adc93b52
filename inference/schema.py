"""The label schema of a model: its heads and the values each one predicts.

Built from the config's ``labels`` section, so a new target is a config change, never a
code change. Head names double as keys in the weights file, so they are saved with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.config import LabelsConfig

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LabelSchema:
    targets: tuple[str, ...]
    attribution: tuple[str, ...]
    affiliation: tuple[str, ...]
    stance: tuple[str, ...]
    no_attribution: str
    author_affiliation: str
    no_stance: str

    @classmethod
    def from_config(cls, labels: LabelsConfig) -> LabelSchema:
        return cls(
            targets=tuple(labels.targets),
            attribution=tuple(labels.attribution),
            affiliation=tuple(labels.affiliation),
            stance=tuple(labels.stance),
            no_attribution=labels.no_attribution,
            author_affiliation=labels.author_affiliation,
            no_stance=labels.no_stance,
        )

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """Every classification head and its values, in a fixed order."""
        heads = {"attribution": self.attribution, "affiliation": self.affiliation}
        for target in self.targets:
            heads[stance_head(target)] = self.stance
        return heads

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "heads": {name: {"id2label": dict(enumerate(values))} for name, values in self.heads.items()},
            "targets": list(self.targets),
        }


STANCE_PREFIX = "stance_"


def stance_head(target: str) -> str:
    return STANCE_PREFIX + target


def is_stance_head(head: str) -> bool:
    return head.startswith(STANCE_PREFIX)


def label_value(label: dict, head: str) -> str:
    """The value a contract record gives a head: ``speaker.<head>`` or ``stance.<target>``."""
    if is_stance_head(head):
        return label["stance"][head[len(STANCE_PREFIX) :]]
    return label["speaker"][head]
