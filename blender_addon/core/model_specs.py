"""Input/output contract of every ONNX model Facsimile ships: the one place these shapes and names are declared.

Exporters write `spec.metadata()` into the model (onnx metadata_props); the runtime checks a loaded session against
the same spec, so a model exported against an old contract fails loudly at load time, not with wrong numbers later.
"""

from __future__ import annotations

from .errors import FacsimileError

import json
from dataclasses import asdict, dataclass, field

from .arkit import ARKIT_NAMES


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]  # str = symbolic (batch) dimension
    dtype: str = "float32"
    doc: str = ""


@dataclass(frozen=True)
class ModelSpec:
    file_name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def metadata(self) -> dict[str, str]:
        """String key/values to embed in the ONNX file (metadata_props)."""
        meta = {
            "facsimile.model": self.file_name,
            "facsimile.inputs": json.dumps([asdict(t) for t in self.inputs]),
            "facsimile.outputs": json.dumps([asdict(t) for t in self.outputs]),
        }
        meta.update({f"facsimile.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in self.extra.items()})
        return meta


class ModelContractError(FacsimileError, RuntimeError):
    """A loaded model does not match the contract this version of Facsimile expects."""


def check_session(session, spec: ModelSpec) -> None:
    """Raise ModelContractError when a session's inputs/outputs differ from spec (names, ranks, fixed dims)."""

    def _cmp(kind: str, got, want: tuple[TensorSpec, ...]) -> None:
        if len(got) != len(want):
            raise ModelContractError(
                f"{spec.file_name}: expected {len(want)} {kind}s, model has {len(got)}; re-export the model"
            )
        for g, w in zip(got, want):
            if g.name != w.name or len(g.shape) != len(w.shape):
                raise ModelContractError(
                    f"{spec.file_name}: {kind} {g.name}{list(g.shape)} does not match contract "
                    f"{w.name}{list(w.shape)}; re-export the model"
                )
            for gd, wd in zip(g.shape, w.shape):
                if isinstance(wd, int) and isinstance(gd, int) and gd != wd:
                    raise ModelContractError(
                        f"{spec.file_name}: {kind} {g.name} has shape {list(g.shape)}, contract says {list(w.shape)}"
                    )

    _cmp("input", session.get_inputs(), spec.inputs)
    _cmp("output", session.get_outputs(), spec.outputs)


SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    SPECS[spec.file_name] = spec
    return spec


ARKIT_ORDER_JSON = json.dumps(list(ARKIT_NAMES))


# Each model's spec follows, one block per model, declared as NAME = register(ModelSpec(...)).
