"""The feed keeps no tables of its own (see docs/feed.md); it adds one index to stories.

``ix_stories_updated`` lets every API process ask "which stories changed since I last looked?"
every two seconds by reading only the changed rows, not the whole recent window.
"""

from __future__ import annotations

from sqlalchemy import Index

from newstalk.stories.models import Story

STORIES_UPDATED = Index("ix_stories_updated", Story.__table__.c.updated_at)
