from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from chatbot.secrets import Redactor, Secret, StreamScrubber

KEY = "sk-proj-AbCdEf0123456789xyzXYZ"


def test_secret_never_shows_itself() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret) and KEY not in str(secret) and KEY not in f"{secret}"
    assert secret.reveal() == KEY


def test_redactor_hides_the_key_and_key_shaped_strings() -> None:
    redact = Redactor([KEY])
    assert redact(f"Incorrect API key provided: {KEY}.") == "Incorrect API key provided: ***."
    assert "sk-other1234567890" not in redact("echo sk-other1234567890 back")


@given(text=st.text(alphabet="ab-sk" + KEY, max_size=200), cuts=st.lists(st.integers(0, 200)))
def test_scrubber_removes_the_key_however_it_is_split(text: str, cuts: list[int]) -> None:
    full = f"{text}{KEY}{text}"
    scrubber = StreamScrubber(KEY)
    bounds = sorted({0, len(full), *(c % (len(full) + 1) for c in cuts)})
    out = "".join(scrubber.feed(full[a:b]) for a, b in itertools.pairwise(bounds))
    out += scrubber.flush()
    assert KEY not in out
    assert out == full.replace(KEY, "***")
