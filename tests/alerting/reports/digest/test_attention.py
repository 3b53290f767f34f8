"""What to look at first: the urgent first."""

from __future__ import annotations

from alerting.reports.digest.model import Digest


def test_what_to_look_at_first_puts_the_urgent_first(digest: Digest) -> None:
    levels = [a.level for a in digest.attention]
    assert levels == sorted(levels, key=("urgent", "check", "note").index)
    first = digest.attention[0].text
    assert first.startswith("1 critical alert this week")
    texts = " ".join(a.text for a in digest.attention)
    assert "past the time to act" in texts
    assert "Source proxy went quiet once" in texts
    assert "Source pihole: 17 lines could not be read" in texts
    assert "3 unauthorised devices" in texts
