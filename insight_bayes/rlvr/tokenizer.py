"""A character tokenizer for a task's alphabet, with padding, begin and end tokens."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CharTokenizer"]


class CharTokenizer:
    """One token per character of ``alphabet`` plus ``<pad>`` (0), ``<bos>`` (1), ``<eos>`` (2).

    Parameters
    ----------
    alphabet : str
        Every character that prompts and answers may contain (duplicates refused).

    Examples
    --------
    >>> tok = CharTokenizer("0123456789+=")
    >>> tok.decode(tok.encode("12+3="))
    '12+3='
    """

    pad_id = 0
    bos_id = 1
    eos_id = 2
    _specials = ("<pad>", "<bos>", "<eos>")

    def __init__(self, alphabet: str) -> None:
        if not isinstance(alphabet, str) or not alphabet:
            raise ValueError(f"alphabet must be a non-empty string, got {alphabet!r}")
        if len(set(alphabet)) != len(alphabet):
            raise ValueError(f"alphabet has repeated characters: {alphabet!r}")
        self.alphabet = alphabet
        self._to_id = {c: i + len(self._specials) for i, c in enumerate(alphabet)}
        self._to_char = {i: c for c, i in self._to_id.items()}

    @property
    def vocab_size(self) -> int:
        return len(self._specials) + len(self.alphabet)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """Token ids of ``text``; raises ``ValueError`` naming a character outside the alphabet."""
        try:
            ids = [self._to_id[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"text {text[:40]!r} has character {err.args[0]!r} outside the alphabet "
                f"{self.alphabet!r}"
            ) from None
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` up to the first ``<eos>``; padding and ``<bos>`` are dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self._to_char.get(i, ""))
        return "".join(out)
