"""LOBSTER and bar readers (synthetic files for every check, real files when present), the
dataset loaders' input checks, and OrderBookImage on read_lobster's frames."""

import zipfile

import numpy as np
import pandas as pd
import pytest

from tsargen.datasets import load_macrodata, read_bars, read_lobster
from tsargen.transforms import OrderBookImage

MSG = [
    "34200.000000001,1,11,100,1000100,1",
    "34200.000000001,3,11,100,1000100,1",
    "34200.5,4,12,50,1000300,-1",
    "34201.123456789,7,0,0,-1,-1",
    "34202.25,2,13,20,1000000,1",
]
# two levels: ask p, ask s, bid p, bid s per level (prices x 10^4); level 2 bid is empty
BOOK = [
    "1000300,200,1000100,100,1000400,10,-9999999999,0",
    "1000300,200,1000000,30,1000400,10,-9999999999,0",
    "1000300,150,1000000,30,1000400,10,-9999999999,0",
    "1000300,150,1000000,30,1000400,10,-9999999999,0",
    "1000300,150,1000000,10,1000400,10,-9999999999,0",
]
NAME = "TEST_2012-06-21_34200000_57600000_{}_2.csv"


def write_pair(folder, msg=MSG, book=BOOK):
    m = folder / NAME.format("message")
    m.write_text("\n".join(msg) + "\n")
    (folder / NAME.format("orderbook")).write_text("\n".join(book) + "\n")
    return m


def test_reads_csv_pair_and_zip_identically(tmp_path):
    m = write_pair(tmp_path)
    z = tmp_path / "day.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.write(m, m.name)
        f.write(tmp_path / NAME.format("orderbook"), NAME.format("orderbook"))
    a, b = read_lobster(m), read_lobster(z)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:5]) == ["type", "order_id", "size", "price", "direction"]
    assert a.shape == (4, 5 + 8)                               # the halt row is dropped
    assert a.index[0] == pd.Timestamp("2012-06-21 09:30:00.000000001")
    assert a.index[-1] == pd.Timestamp("2012-06-21 09:30:02.25")
    assert a["price"].tolist() == [100.01, 100.01, 100.03, 100.0]
    assert a["ask_price_1"].iloc[0] == 100.03 and a["bid_size_1"].tolist() == [100, 30, 30, 10]
    assert a["bid_price_2"].isna().all() and (a["bid_size_2"] == 0).all()
    assert a.attrs["halts"] == [(pd.Timestamp("2012-06-21 09:30:01.123456789"), "halt")]
    one = read_lobster(m, levels=1)
    assert list(one.columns[5:]) == ["ask_price_1", "ask_size_1", "bid_price_1", "bid_size_1"]
    with pytest.raises(ValueError, match="levels"):
        read_lobster(m, levels=3)


@pytest.mark.parametrize("row, msg_line, book_line, match", [
    (2, "34199.9,4,12,50,1000300,-1", None, "row 2 .*earlier"),
    (2, "34200.5,6,12,50,1000300,-1", None, "row 2 .*unknown event type 6"),
    (2, "34200.5,4,12,-50,1000300,-1", None, "row 2 .*negative size"),
    (2, "34200.5,4,12,50,1000300,0", None, "row 2 .*direction"),
    (2, None, "1000000,150,1000100,30,1000400,10,-9999999999,0", "row 2 .*crossed"),
    (2, None, "1000300,-1,1000000,30,1000400,10,-9999999999,0", "row 2 .*negative size"),
])
def test_bad_rows_are_named(tmp_path, row, msg_line, book_line, match):
    msg, book = list(MSG), list(BOOK)
    if msg_line:
        msg[row] = msg_line
    if book_line:
        book[row] = book_line
    with pytest.raises(ValueError, match=match):
        read_lobster(write_pair(tmp_path, msg, book))


def test_missing_columns_and_files(tmp_path):
    with pytest.raises(ValueError, match="6"):
        read_lobster(write_pair(tmp_path, [r.rsplit(",", 1)[0] for r in MSG]))
    with pytest.raises(ValueError, match="8 are expected"):
        read_lobster(write_pair(tmp_path, MSG, [r.rsplit(",", 1)[0] for r in BOOK]))
    (tmp_path / NAME.format("orderbook")).unlink()
    with pytest.raises(FileNotFoundError, match="orderbook"):
        read_lobster(tmp_path / NAME.format("message"))


def test_read_bars_both_layouts(tmp_path):
    p = tmp_path / "bars.txt"
    p.write_text("Date,Open,High,Low,Close,Volume,OpenInterest\n"
                 "2006-01-02,09:01:00,10,11,9,10.5,100,0\n2006-01-02,09:02:00,10,12,9,11,50,0\n")
    b = read_bars(p)
    assert list(b.columns) == ["open", "high", "low", "close", "volume", "open_interest"]
    assert b.index[1] == pd.Timestamp("2006-01-02 09:02") and b["close"].tolist() == [10.5, 11]
    q = tmp_path / "ticks.csv"
    q.write_text("Datetime,Open,High,Low,Close,Volume\n2015-09-23T20:57:42.146,1,1,1,1,3\n")
    assert read_bars(q).index[0] == pd.Timestamp("2015-09-23 20:57:42.146")
    q.write_text("Datetime,Open,High,Low,Close,Volume\n2015-09-23T20:57:42,1,1,1,1,3\n"
                 "2015-09-23T20:57:41,1,1,1,1,3\n")
    with pytest.raises(ValueError, match="row 1 .*earlier"):
        read_bars(q)
    q.write_text("Datetime,Open,High,Low,Close\n2015-09-23T20:57:42,1,1,1,1\n")
    with pytest.raises(ValueError, match="volume"):
        read_bars(q)


def test_bad_dataset_inputs_are_named(tmp_path):
    p = tmp_path / "bars.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ValueError, match="bars.csv is not a text CSV"):
        read_bars(p)
    with pytest.raises(ValueError, match=r"unknown columns \['nope'\].*'realgdp'"):
        load_macrodata(["realgdp", "nope"])
    with pytest.raises(ValueError, match=r"unknown columns \['infl'\]"):    # log of < 0
        load_macrodata(["infl"])
    assert load_macrodata("cpi").columns.tolist() == ["cpi"]
    everything = load_macrodata(None)
    assert "realgdp" in everything and "infl" not in everything
    assert np.isfinite(everything.to_numpy()).all()


# ---------------------------------------------------------------------------- OrderBookImage
def test_order_book_image_gives_back_read_lobsters_frame(tmp_path):
    book = read_lobster(write_pair(tmp_path)).iloc[:, 5:]      # 2 levels, bid level 2 empty
    ob = OrderBookImage(n_ticks=3).fit(book)
    back = ob.inverse_transform(ob.transform(book), mid=ob.mid_price(book))
    assert back.equals(book)                 # same column order, dtypes, NaN and values
    with pytest.raises(ValueError, match="finite signed log depths"):      # no int64 size
        ob.inverse_transform(np.full((1, 6), np.nan), mid=100.0)


def test_order_book_image_refuses_rows_without_a_mid(tmp_path):
    book = read_lobster(write_pair(tmp_path)).iloc[:, 5:]
    ob = OrderBookImage(n_ticks=3).fit(book)
    one_sided, crossed = book.copy(), book.copy()
    one_sided.iloc[2, book.columns.get_loc("bid_price_1")] = np.nan
    crossed.iloc[1, book.columns.get_loc("ask_price_1")] = 99.0
    for bad, match in ((one_sided, "row 2: the best ask or bid is missing"),
                       (crossed, "row 1: the book is crossed")):
        for method in (ob.transform, ob.mid_price):
            with pytest.raises(ValueError, match=match):
                method(bad)
    # resampling keeps each interval's last row whole: no stale best bid fills the gap
    with pytest.raises(ValueError, match=r"resampled row 0 \(.*09:30:01\).*missing"):
        OrderBookImage(n_ticks=3, resample="1s").fit(book).transform(one_sided)


def test_real_lobster_files(data_dir):
    folder = data_dir / "lobster"
    ev = read_lobster(folder / "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip", levels=2)
    assert len(ev) == 112673 and ev.shape[1] == 5 + 8
    assert ev.index.is_monotonic_increasing and ev.index[0].date() == pd.Timestamp(
        "2012-06-21").date()
    assert (ev["ask_price_1"] > ev["bid_price_1"]).all()
    assert (ev["ask_price_2"] > ev["ask_price_1"]).all()
    assert set(ev["type"].unique()) <= {1, 2, 3, 4, 5}
    # first message: 34200.015105074,4,15818974,4,5794000,1 (exact to the nanosecond)
    assert ev.index[0] == pd.Timestamp("2012-06-21 09:30:00.015105074")
    assert ev["price"].iloc[0] == 579.4 and ev["size"].iloc[0] == 4
    amzn = read_lobster(folder / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    assert amzn.shape == (57515, 9)


def test_real_bars(data_dir):
    b = read_bars(data_dir / "bars" / "2006-01-02-volume-min-001.txt")
    assert b.shape == (30889, 6) and b.index.is_monotonic_increasing
    assert b.index[0] == pd.Timestamp("2006-01-02 09:01")
    assert (b["high"] >= b[["open", "close"]].max(axis=1)).all()
    t = read_bars(data_dir / "bars" / "ticksample.csv")
    assert len(t) == 135 and np.isfinite(t.to_numpy()).all()
