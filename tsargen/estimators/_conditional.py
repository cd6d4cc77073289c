"""Class-conditional densities: ``fit(X, y)`` with a label per sample conditions the network
on the class; scoring without ``y`` gives the marginal over the classes, and sampling without
``y`` draws the classes first (see docs/architecture.md).

A density mixes in :class:`ClassConditional` and sets ``classes_`` and ``class_prior_`` (None
when fitted without labels) from :meth:`ClassConditional._encode_classes`.
"""

import numpy as np
import torch

from ..validation import check_labels
from ._runtime import draw_classes


class ClassConditional:
    """Labels, class priors, the marginal over classes and class draws for a density.

    ``_label_unit`` names one sample in messages ("series", "image").
    """

    _label_unit = "sample"

    def _check_labels(self, y, n, fitting=False):
        """Labels -> codes ``0..K-1`` (a long tensor), or the raw labels when fitting."""
        codes = check_labels(y, n, getattr(self, "classes_", None), fitting, what=self._label_unit)
        return codes if fitting or codes is None else torch.as_tensor(codes)

    @staticmethod
    def _encode_classes(labels):
        """Raw training labels (or None) -> ``(classes, prior, codes (n,) long tensor)``."""
        if labels is None:
            return None, None, None
        classes, codes = np.unique(labels, return_inverse=True)
        return classes, np.bincount(codes) / len(codes), torch.as_tensor(codes, dtype=torch.long)

    def _every_class(self, n):
        """For each class ``k``: the codes of ``n`` samples all labelled ``k``."""
        return [torch.full((n,), k) for k in range(len(self.classes_))]

    def _marginal_of(self, per_class):
        """Per-class log-probabilities ``(K, n, D)`` in the model's order -> steps ``(n, D)`` of
        the marginal ``sum_k p(k) p(x | k)``: log-ratios of consecutive prefix marginals, so
        step ``d`` still depends on nothing after it."""
        prefix = np.logaddexp.reduce(np.log(self.class_prior_)[:, None, None]
                                     + np.cumsum(per_class, axis=2), axis=0)      # (n, D)
        return np.diff(prefix, axis=1, prepend=0.0)

    def _sample_labels(self, y, n, seed):
        """Codes to generate with: the given labels, or drawn from the class frequencies."""
        if self.classes_ is None or y is not None:
            return self._check_labels(y, n)
        return torch.as_tensor(np.random.RandomState(seed).choice(
            len(self.classes_), size=n, p=self.class_prior_))

    def _posterior_classes(self, log_lik, n_samples, seed):
        """One class per completion ``(n_samples * n,)`` (sample-major) from ``p(k | known
        part)``, given ``log_lik (n, K)`` of the known part under each class."""
        return draw_classes(log_lik, self.class_prior_, n_samples, seed)
