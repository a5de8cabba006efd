"""``POST /v1/embeddings`` over the openai SDK, with the answer's shape checked.

Servers that say they embed do not all answer alike: llama-cpp-python's server
returns one vector per *token* for a chat model, not one per text. So the
response is read as plain JSON and trusted only when it holds exactly one flat
vector of numbers per input, all of one length; anything else is an
:class:`EmbeddingsUnusable` that says what came back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from chatbot.errors import ApiError
from chatbot.i18n import _
from chatbot.secrets import Redactor, url_secrets

if TYPE_CHECKING:
    import openai

__all__ = ["EmbeddingsClient", "EmbeddingsUnusable", "check_vectors"]


class EmbeddingsUnusable(ApiError):
    """The server cannot embed (no endpoint, no such model) or answered in a shape we cannot use."""


class EmbeddingsClient:
    """One server's embeddings endpoint."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 60.0,
        redact: Redactor | None = None,
        sdk_factory: Callable[[], openai.OpenAI] | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self._redact = redact or Redactor([api_key, *url_secrets(base_url)])
        self._factory = sdk_factory
        self._sdk: openai.OpenAI | None = None

    def _client(self) -> openai.OpenAI:
        if self._sdk is None:
            if self._factory is not None:
                self._sdk = self._factory()
            else:
                import openai

                self._sdk = openai.OpenAI(
                    api_key=self._api_key or "none",
                    base_url=self.base_url,
                    timeout=self._timeout,
                    max_retries=2,
                )
        return self._sdk

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; raises :class:`ApiError` subclasses."""
        import openai

        where = self._redact(self.base_url)
        try:
            raw = self._client().embeddings.with_raw_response.create(
                model=model, input=list(texts), encoding_format="float"
            )
            payload = json.loads(raw.text)
        except openai.NotFoundError as exc:
            detail = self._redact(str(getattr(exc, "message", "") or exc))[:200]
            raise EmbeddingsUnusable(
                _("{where} has no embeddings for {model!r} ({detail})").format(
                    where=where, model=model, detail=detail
                )
            ) from None
        except openai.APIStatusError as exc:
            detail = self._redact(str(getattr(exc, "message", "") or exc))[:200]
            raise EmbeddingsUnusable(
                _("{where} refused to embed with {model!r}: {status} {detail}").format(
                    where=where, model=model, status=exc.status_code, detail=detail
                )
            ) from None
        except openai.APITimeoutError:
            raise ApiError(
                _("{where} did not answer an embeddings request in time").format(where=where)
            ) from None
        except openai.APIConnectionError:
            raise ApiError(_("cannot reach {where} to embed").format(where=where)) from None
        except ValueError:
            raise EmbeddingsUnusable(
                _("{where} answered /embeddings with something not JSON").format(where=where)
            ) from None
        return check_vectors(payload, count=len(texts), where=f"{where} ({model})")

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None


def check_vectors(payload: object, *, count: int, where: str) -> list[list[float]]:
    """The vectors in an embeddings answer, if it has one flat vector per input."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise EmbeddingsUnusable(
            _("{where} answered /embeddings without a data list").format(where=where)
        )
    if len(data) != count:
        raise EmbeddingsUnusable(
            _("{where} returned {got} vectors for {count} texts: not one per text").format(
                where=where, got=len(data), count=count
            )
        )
    ordered = sorted(data, key=lambda item: item.get("index", 0) if isinstance(item, dict) else 0)
    vectors: list[list[float]] = []
    for item in ordered:
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, list) and vector and isinstance(vector[0], list):
            raise EmbeddingsUnusable(
                _(
                    "{where} returned {got} vectors for one text (one per token?), "
                    "not one per text: it cannot embed passages"
                ).format(where=where, got=len(vector))
            )
        if (
            not isinstance(vector, list)
            or not vector
            or not all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                for x in vector
            )
        ):
            raise EmbeddingsUnusable(
                _("{where} returned an embedding that is not a list of numbers").format(where=where)
            )
        vectors.append([float(x) for x in vector])
    if len({len(v) for v in vectors}) > 1:
        raise EmbeddingsUnusable(
            _("{where} returned vectors of different lengths").format(where=where)
        )
    return vectors
