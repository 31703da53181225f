"""`python -m model_training.render`: render ICT heads and run the face front-end on them (see render_ict.py)."""

from .render_ict import main

raise SystemExit(main())
