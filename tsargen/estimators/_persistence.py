"""Saving and loading estimators: one file of weights and plain data, read with
``torch.load(weights_only=True)`` and a checksum, so that loading never runs code from the file.

Estimator and transformer classes are found by name in :data:`tsargen._registry.REGISTRY`,
filled when the classes are defined (see docs/architecture.md).
"""

import contextlib
import dataclasses
import datetime
import hashlib
import io
import json
import os
import pickle
import tempfile
import warnings
import zoneinfo

import dateutil.tz
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._registry import REGISTRY, registered
from ..networks import NETWORKS
from ._runtime import is_primary

FORMAT = "tsargen-model/1"


def _tsargen_class(name):
    """A registered tsargen estimator or transformer class by name (nested in model files)."""
    cls = registered(str(name))
    if cls is None:
        raise ValueError(f"unknown nested estimator class {name!r} in model file")
    return cls


def _is_tsargen_estimator(value):
    return isinstance(value, BaseEstimator) and REGISTRY.get(type(value).__name__) is type(value)


def _tz_key(tz, kind):
    """The IANA name of a zone, or None (fixed offsets, zones read from a file)."""
    if kind == "zoneinfo":
        return tz.key
    if kind == "pytz":
        return getattr(tz, "zone", None)
    if kind == "dateutil" and hasattr(tz, "_filename"):
        # a dateutil tzfile has no public name: 4.0 keeps it in _key, 2.x only as a file path
        return getattr(tz, "_key", None) or tz._filename.rpartition("zoneinfo/")[2] or None
    return None


def _encode_tz(tz):
    """A time zone -> text that :func:`_decode_tz` turns back into a zone of the same kind:
    ``"zoneinfo:<key>"``, ``"pytz:<key>"``, ``"dateutil:<key>"`` or ``"fixed:<seconds>"``.
    Files written before this codec hold ``str(tz)``, which :func:`_decode_tz` passes to pandas
    as before."""
    if tz is None:
        return None
    kind = type(tz).__module__.split(".")[0]
    key = _tz_key(tz, kind)
    if key:
        return f"{kind}:{key}"
    offset = tz.utcoffset(None)        # constant-offset zones answer without a date
    if offset is not None:
        return f"fixed:{int(offset.total_seconds())}"
    raise TypeError(f"cannot save the time zone {tz!r}: use a zoneinfo, pytz or dateutil zone "
                    "from the IANA database, or a fixed offset")


def _decode_tz(text):
    if text is None:
        return None
    kind, sep, key = text.partition(":")
    if not sep or kind not in ("zoneinfo", "pytz", "dateutil", "fixed"):
        return text                    # an older file: str(tz), read by pandas
    if kind == "fixed":
        return datetime.timezone(datetime.timedelta(seconds=int(key)))
    if kind == "zoneinfo":
        return zoneinfo.ZoneInfo(key)
    if kind == "pytz":
        import pytz  # optional: only a model fitted on a pytz index needs it
        return pytz.timezone(key)
    return dateutil.tz.gettz(key)


def _encode(value, path):
    """Fitted state -> objects ``torch.load(weights_only=True)`` accepts."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, pd.Timestamp):            # e.g. a series named by a date
        return {"__time__": "timestamp", "text": value.isoformat(),
                "tz": _encode_tz(value.tz)}
    if isinstance(value, pd.Period):
        return {"__time__": "period", "text": str(value), "freq": value.freqstr}
    if isinstance(value, pd.Timedelta):
        return {"__time__": "timedelta", "text": value.isoformat()}
    if _is_tsargen_estimator(value):              # a nested estimator, fitted or not
        return {"__estimator__": type(value).__name__, "params": _json_params(value),
                "fitted": {k: _encode(v, f"{path}.{k}") for k, v in vars(value).items()
                           if k.endswith("_") and not k.startswith("__")}}
    if dataclasses.is_dataclass(value) and REGISTRY.get(type(value).__name__) is type(value):
        return {"__record__": type(value).__name__,            # e.g. a forecaster's Layout
                "fields": {f.name: _encode(getattr(value, f.name), f"{path}.{f.name}")
                           for f in dataclasses.fields(value)}}
    if isinstance(value, torch.nn.Module):
        name = type(value).__name__
        if name not in NETWORKS:
            raise TypeError(f"cannot save a {name} network at {path}")
        return {"__network__": name, "config": json.dumps(value.config),
                "state": {k: v.detach().cpu() for k, v in value.state_dict().items()}}
    if isinstance(value, pd.DataFrame):            # e.g. a table of validation scores
        if isinstance(value.index, pd.MultiIndex) or isinstance(value.columns, pd.MultiIndex):
            raise TypeError(f"cannot save fitted attribute {path}: a DataFrame with a MultiIndex")
        return {"__frame__": [_encode_column(value.iloc[:, j], f"{path}[{c!r}]")
                              for j, c in enumerate(value.columns)],
                "columns": _encode(value.columns, f"{path}.columns"),
                "index": _encode(value.index, f"{path}.index")}
    if isinstance(value, pd.Index):
        name = _encode(value.name, f"{path}.name")
        if isinstance(value, pd.DatetimeIndex):
            return {"__index__": "datetime", "values": torch.from_numpy(value.asi8.copy()),
                    "unit": value.unit, "tz": _encode_tz(value.tz),
                    "freq": None if value.freq is None else value.freqstr, "name": name}
        if isinstance(value, pd.PeriodIndex):
            return {"__index__": "period", "values": torch.from_numpy(value.asi8.copy()),
                    "freq": value.freqstr, "name": name}
        if isinstance(value, pd.RangeIndex):
            return {"__index__": "range", "start": value.start, "stop": value.stop,
                    "step": value.step, "name": name}
        return {"__index__": "other", "values": _encode(value.to_numpy(), path), "name": name}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "mM":              # datetime64 / timedelta64, e.g. class labels
            return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value).view("i8").copy()),
                    "dtype": value.dtype.str}
        if np.issubdtype(value.dtype, np.number) or value.dtype == bool:
            return {"__ndarray__": torch.from_numpy(np.array(value, copy=True, order="C"))}
        return {"__objarray__": [_encode(v, path) for v in value.tolist()],
                "dtype": value.dtype.str if value.dtype.kind in "US" else "object"}
    if isinstance(value, (list, tuple)):
        return {"__seq__": [_encode(v, f"{path}[{i}]") for i, v in enumerate(value)],
                "tuple": isinstance(value, tuple)}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, path), _encode(v, f"{path}[{k!r}]")]
                             for k, v in value.items()]}
    raise TypeError(f"cannot save fitted attribute {path} of type {type(value).__name__}")


def _encode_column(column, path):
    """A DataFrame column: its numpy array when it has a numpy dtype of numbers, booleans or
    times (kept exactly), else its values one by one (read back as an object column)."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":
        return _encode(column.to_numpy(), path)
    return {"__column__": [_encode(v, path) for v in column.tolist()]}


def _decode_column(value):
    if isinstance(value, dict) and "__column__" in value:
        items = [_decode(v) for v in value["__column__"]]
        column = np.empty(len(items), dtype=object)     # items may be lists or dicts
        column[:] = items
        return column
    return _decode(value)


def _decode(value):
    if not isinstance(value, dict):
        return value
    if "__frame__" in value:
        index = _decode(value["index"])
        # object columns stay object (pandas would infer a string dtype for text)
        columns = {j: pd.Series(c, index=index, dtype=object if c.dtype == object else None)
                   for j, c in enumerate(_decode_column(c) for c in value["__frame__"])}
        frame = pd.DataFrame(columns) if columns else pd.DataFrame(index=index)
        frame.columns = _decode(value["columns"])
        return frame
    if "__estimator__" in value:
        est = _construct(_tsargen_class(value["__estimator__"]),
                         _decode_json(json.loads(value["params"])))
        est._restore_fitted({key: _decode(item) for key, item in value["fitted"].items()})
        return est
    if "__record__" in value:
        return _tsargen_class(value["__record__"])(
            **{k: _decode(v) for k, v in value["fields"].items()})
    if "__network__" in value:
        net = NETWORKS[value["__network__"]](**json.loads(value["config"]))
        net.load_state_dict(value["state"])
        return net.eval()
    if "__time__" in value:
        kind, text = value["__time__"], value["text"]
        if kind == "timestamp":
            return (pd.Timestamp(text).tz_convert(_decode_tz(value["tz"])) if value["tz"]
                    else pd.Timestamp(text))
        return pd.Period(text, freq=value["freq"]) if kind == "period" else pd.Timedelta(text)
    if "__index__" in value:
        kind, name = value["__index__"], _decode(value["name"])
        if kind == "datetime":
            idx = pd.DatetimeIndex(value["values"].numpy().astype(f"datetime64[{value['unit']}]"),
                                   name=name)
            if value["tz"]:
                idx = idx.tz_localize("UTC").tz_convert(_decode_tz(value["tz"]))
            if value["freq"]:
                idx = pd.DatetimeIndex(idx, freq=value["freq"])
            return idx
        if kind == "period":
            return pd.PeriodIndex.from_ordinals(value["values"].numpy(), freq=value["freq"],
                                                name=name)
        if kind == "range":
            return pd.RangeIndex(value["start"], value["stop"], value["step"], name=name)
        return pd.Index(_decode(value["values"]), name=name)
    if "__ndarray__" in value:
        array = value["__ndarray__"].numpy()
        return array.view(value["dtype"]) if "dtype" in value else array
    if "__objarray__" in value:
        return np.array([_decode(v) for v in value["__objarray__"]], dtype=value["dtype"])
    if "__seq__" in value:
        items = [_decode(v) for v in value["__seq__"]]
        return tuple(items) if value["tuple"] else items
    if "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    raise ValueError(f"unrecognised entry in model file: keys {sorted(value)}")


def _construct(cls, params):
    """``cls(**params)``; a parameter the file predates takes the value in the class's
    ``_params_before`` (the behaviour the model was fitted with), else its default."""
    return cls(**{**getattr(cls, "_params_before", {}), **params})


def _json_params(est):
    params = est.get_params(deep=False)
    try:
        return json.dumps(_encode_json(params))
    except TypeError as err:
        raise TypeError(f"save() stores parameters as JSON: {err}. Pass plain values (e.g. an "
                        "int random_state).") from None


def _encode_json(value):
    if isinstance(value, dict):
        return {"__pairs__": [[_encode_json(k), _encode_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":    # e.g. class priors
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if _is_tsargen_estimator(value):              # e.g. a density inside a forecaster
        return {"__estimator__": type(value).__name__,
                "params": _encode_json(value.get_params(deep=False))}
    raise TypeError(f"parameter value {value!r} is not JSON-serialisable")


def _decode_json(value):
    if isinstance(value, dict) and "__pairs__" in value:
        return {_decode_json(k): _decode_json(v) for k, v in value["__pairs__"]}
    if isinstance(value, dict) and "__estimator__" in value:
        return _construct(_tsargen_class(value["__estimator__"]), _decode_json(value["params"]))
    if isinstance(value, dict) and "__array__" in value:
        return np.array(value["__array__"], dtype=value["dtype"])
    if isinstance(value, list):
        return [_decode_json(v) for v in value]
    return value


def save_fitted(est, path):
    """Write fitted ``est`` (a class :func:`load` knows) as its JSON parameters and its fitted
    attributes; everything is encoded before the file is opened, so a failure writes nothing."""
    check_is_fitted(est)
    fitted = {k: _encode(v, k) for k, v in vars(est).items()
              if k.endswith("_") and not k.startswith("__")}
    params = _json_params(est)
    if is_primary():
        write_checked({"format": FORMAT, "class": type(est).__name__, "params": params,
                       "fitted": fitted}, path, FORMAT)


def write_checked(obj, path, fmt):
    """``torch.save`` ``obj`` with a SHA-256 digest of its bytes, atomically when ``path`` is a
    file name (temporary file in the same folder, fsync, ``os.replace``): a crash mid-write
    leaves the previous file intact. ``obj`` must hold only what ``weights_only`` loads."""
    inner = io.BytesIO()
    torch.save(obj, inner)
    blob = inner.getvalue()
    # torch does not verify its archive's checksums: a digest makes corruption loud
    outer = {"format": fmt, "sha256": hashlib.sha256(blob).hexdigest(),
             "payload": torch.frombuffer(bytearray(blob), dtype=torch.uint8)}
    if not isinstance(path, (str, os.PathLike)):
        torch.save(outer, path)
        return
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(outer, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _safe_load(source, path, what):
    """``torch.load`` with ``weights_only=True``: refuses anything but tensors and plain data."""
    try:
        with warnings.catch_warnings():   # torch's notes on foreign pickles: refused below
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError:  # objects weights_only refuses (torch's advice would be
        # to turn the safety off, the opposite of what loading a tsargen file promises)
        raise ValueError(f"{path} is not a readable tsargen {what} file (one written by "
                         "save() holds only tensors and plain data; this one holds other Python "
                         "objects, which tsargen never unpickles).") from None
    except Exception as err:  # truncated zip, wrong format
        first = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(f"{path} is not a readable tsargen {what} file ({type(err).__name__}: "
                         f"{first})") from None


def read_checked(path, fmt, what="model"):
    """Inverse of :func:`write_checked`: the stored dict, after checking the format marker and
    the digest. Raises ``ValueError`` for a truncated, corrupted or foreign file; never executes
    code from it."""
    outer = _safe_load(path, path, what)
    if not isinstance(outer, dict) or outer.get("format") != fmt or not isinstance(
            outer.get("payload"), torch.Tensor):
        raise ValueError(f"{path} is not a tsargen {what} file (format marker missing).")
    blob = outer["payload"].numpy().tobytes()
    if hashlib.sha256(blob).hexdigest() != outer.get("sha256"):
        raise ValueError(f"{path} is corrupted (checksum mismatch); re-create the {what} file.")
    payload = _safe_load(io.BytesIO(blob), path, what)
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise ValueError(f"{path} is not a tsargen {what} file (format marker missing).")
    return payload


def load(path):
    """Load an estimator written by ``save``. Never executes code from the file.

    Raises ``ValueError`` for a file that is truncated, corrupted or not a tsargen model; no
    estimator is returned unless every stored attribute was restored.
    """
    payload = read_checked(path, FORMAT, "model")
    if not all(isinstance(payload.get(k), t) for k, t in
               [("class", str), ("params", str), ("fitted", dict)]):
        raise ValueError(f"{path} is not a complete tsargen model file (entries missing).")
    cls = registered(payload["class"])
    if not callable(getattr(cls, "save", None)):
        raise ValueError(f"{path} names an unknown estimator class {payload['class']!r}.")
    try:
        est = _construct(cls, _decode_json(json.loads(payload["params"])))
        est._restore_fitted({key: _decode(value) for key, value in payload["fitted"].items()})
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise ValueError(f"{path} holds an inconsistent {payload['class']} ({err})") from None
    return est
