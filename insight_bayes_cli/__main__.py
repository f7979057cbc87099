"""``python -m insight_bayes_cli``: the ``insight-bayes`` command."""

from insight_bayes_cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
