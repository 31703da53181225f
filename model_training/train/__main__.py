"""`python -m model_training.train`: the training stage (see pipeline.py)."""

from .pipeline import main

raise SystemExit(main())
