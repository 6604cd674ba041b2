"""Field types of callback data: what a button may carry, checked before any handler runs.

Callback data comes from the phone and can be forged. A value out of these bounds (an id
PostgreSQL's integer cannot hold, a negative page, an unknown action) fails to unpack, so the
button falls through to the stale-button handler and never reaches a query.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT32_MAX = 2_147_483_647

# A row id: positive and within PostgreSQL's integer.
DbId = Annotated[int, Field(ge=1, le=INT32_MAX)]
# The token of a form's prompt (bot/forms.py).
Step = Annotated[int, Field(ge=1, le=INT32_MAX)]
# A page of a list.
Page = Annotated[int, Field(ge=0, le=1_000_000)]
Percent = Annotated[int, Field(ge=0, le=100)]
