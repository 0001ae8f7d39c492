"""Glacier: data pipelines in plain Python.

Importing ``glacier`` loads no cloud SDK, no libcst, no jinja2 and no mypy.
"""

from glacier._dataset import Dataset as Dataset
from glacier._pipeline import Pipeline as Pipeline
from glacier._pipeline import Task as Task
from glacier._pipeline import TaskDecorator as TaskDecorator
from glacier.compute import Container as Container
from glacier.compute import Serverless as Serverless
from glacier.errors import DefinitionError as DefinitionError
from glacier.errors import GlacierError as GlacierError
from glacier.storage import Database as Database
from glacier.storage import ObjectStorage as ObjectStorage

__version__ = "0.1.0"

__all__ = [
    "Container",
    "Database",
    "Dataset",
    "DefinitionError",
    "GlacierError",
    "ObjectStorage",
    "Pipeline",
    "Serverless",
    "Task",
    "TaskDecorator",
    "__version__",
]
