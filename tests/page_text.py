"""Reading numbers off the panel's pages the way a person does, for tests of both tiers."""

from __future__ import annotations

import re


def dollars_shown(text: str) -> tuple[float, float]:
    """("$1,234.50" or "$0.00072") → (the amount, half a unit of its last digit shown): a
    number within that of the true value is what the page should say."""
    match = re.fullmatch(r"\$([0-9,]+)(?:\.([0-9]+))?", text.strip())
    assert match, f"not a dollar amount: {text!r}"
    decimals = len(match.group(2) or "")
    amount = float(match.group(1).replace(",", "") + "." + (match.group(2) or "0"))
    return amount, 0.5 * 10**-decimals
