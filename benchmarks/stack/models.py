"""A small demo table: the realistic page runs three queries on it."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Article(models.Model):
    title = models.CharField(max_length=120)
    published = models.BooleanField(default=True, db_index=True)
    featured = models.BooleanField(default=False)

    objects: ClassVar[models.Manager[Article]] = models.Manager()

    def __str__(self) -> str:
        return self.title
