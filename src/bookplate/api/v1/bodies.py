"""What the ``/bookplate/v1`` routes share: the code of a configuration item in an address,
and the strictness of a JSON body (unknown keys refused, text trimmed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict

#: A profile, rule or library code in an address.
Code = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Strict(BaseModel):
    """A request body: a key the model does not declare is refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
