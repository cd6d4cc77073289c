"""Classes a saved model may name, found by name when it is read (no package import-back).

:class:`Registered` is mixed into every estimator and transformer that can be saved or nested in
a saved model; defining such a class registers it. numpy/pandas-free, torch-free.
"""

import importlib

REGISTRY = {}

#: Saved classes defined outside :mod:`tsargen.estimators` (whose import defines, and so
#: registers, all the others), by the module that defines them.
ELSEWHERE = {"AutoForecaster": "tsargen.auto_forecaster"}


def registered(name):
    """The class registered as ``name`` (None when unknown), importing its module first when it
    is defined outside tsargen.estimators (:data:`ELSEWHERE`), so that a model file naming it
    loads in a session that never imported that module."""
    if name not in REGISTRY and name in ELSEWHERE:
        importlib.import_module(ELSEWHERE[name])
    return REGISTRY.get(name)


class Registered:
    """Mixin: a public subclass is registered under its class name when it is defined."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls

    def _restore_fitted(self, fitted):
        """Set the fitted attributes read from a model file. A subclass whose fitted state
        changed form converts here what files written before the change hold."""
        for key, value in fitted.items():
            setattr(self, key, value)
