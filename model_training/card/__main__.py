"""`python -m model_training.card`: write exported_models/MODEL_CARD.md from the last run (see model_card.py)."""

from .model_card import main

raise SystemExit(main())
