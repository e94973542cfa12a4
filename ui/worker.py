"""Celery workers for the app's background jobs when ``aign ui`` runs with ``AIGN_UI_REDIS``.

    AIGN_UI_REDIS=redis://localhost:6379/0 celery -A ui.worker:celery_app worker

Start them with the same ``AIGN_UI_REDIS`` and ``AIGN_HOME`` as the server: the worker
builds the same app (so it knows the background callbacks) over the same deployment log.
"""

from __future__ import annotations

from ui.app import worker_celery_app

celery_app = worker_celery_app()
