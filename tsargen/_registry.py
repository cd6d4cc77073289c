"""Classes a saved model may name, found by name when it is read (no package import-back).

:class:`Registered` is mixed into every estimator and transformer that can be saved or nested in
a saved model; defining such a class registers it. numpy/pandas-free, torch-free.
"""

REGISTRY = {}


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
