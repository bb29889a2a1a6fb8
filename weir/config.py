"""Where local state lives and which warehouse a command talks to (SPEC section 4)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from weir import schemas

LOCAL_PROJECT = "weir-local"


@dataclass(frozen=True)
class Settings:
    """Resolved from flags, then environment, then defaults."""

    home: str
    project: str | None  # None: the local embedded warehouse
    dataset: str

    @property
    def archive_root(self) -> str:
        return os.path.join(self.home, "archive")

    @property
    def staging_root(self) -> str:
        return os.path.join(self.home, "staging")


def resolve(home: str | None = None, project: str | None = None, dataset: str | None = None) -> Settings:
    """Raises ValueError for a project or dataset that is not a valid id: both end up in SQL
    and resource names, so they are checked once, here (weir.warehouse.params)."""
    from weir.warehouse.params import dataset_id, project_id

    home = home or os.environ.get("WEIR_HOME") or os.path.join(os.getcwd(), ".weir")
    return Settings(
        home=os.path.abspath(home),
        project=project_id(project) if project else None,
        dataset=dataset_id(dataset or os.environ.get("WEIR_DATASET") or schemas.DEFAULT_DATASET),
    )
