"""What provider packages use from the core: ``glacier_local``, ``glacier_aws``, or a
third-party one (``glacier-gcp``).

- ``register_environment(env)``: an ``Environment`` a provider defines announces itself, so
  ``Pipeline.to_model()`` lists it (it needs ``name``, ``account``, ``region``, ``tags`` and a
  ``_site`` from ``glacier.source.call_site``);
- ``storage_model(storage)``: a dataset's ``storage=`` value as the model describes it.
"""

from glacier._runtime_model import register_environment, storage_model

__all__ = ["register_environment", "storage_model"]
