"""Decoding parameters (no Django import). LIMA decodes every model identically."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Decoding:
    # LIMA: nucleus sampling p=0.9, temperature 0.7, repetition penalty 1.2, at most 2,048 new tokens.
    top_p: float = 0.9
    temperature: float = 0.7
    repetition_penalty: float = 1.2
    max_new_tokens: int = 2048

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Decoding":
        known = {key: values[key] for key in cls.__dataclass_fields__ if key in values}
        decoding = cls(**known)
        decoding.validate()
        return decoding

    def validate(self) -> None:
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be ≥ 0, got {self.temperature}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if not 1 <= self.max_new_tokens <= 32768:
            raise ValueError(f"max_new_tokens must be between 1 and 32,768, got {self.max_new_tokens}")


LIMA_DECODING = Decoding()
