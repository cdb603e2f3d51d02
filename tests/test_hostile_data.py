"""Issue 12, items 1-5, 11, 13: hostile or careless data, files, uploads and links. Each test is
named after its item and fails without the fix (the reproductions are the issue's)."""
from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pricecast.data.candles import CandleError
from pricecast.data.csv_import import read_candles_csv, read_candles_csv_info

from .dashboard.charts import figures

ROOT = Path(__file__).resolve().parents[1]


# ---- item 1: European CSVs and OHLC consistency ------------------------------------------------
@pytest.mark.parametrize("case", ["semicolon_decimal_comma", "thousands_point", "tab_separated", "quoted_comma_sep"])
def test_item1_european_decimal_commas_read_as_decimals(case):
    rows = {
        "semicolon_decimal_comma": ("time;open;high;low;close\n", "{d};100,13;101,5;99,87;100,5\n"),
        "thousands_point": ("Date;Open;High;Low;Close;Volume\n", "{d};1.100,13;1.101,5;1.099,87;1.100,5;12.345,5\n"),
        "tab_separated": ("time\topen\thigh\tlow\tclose\n", "{d}\t100,13\t101,5\t99,87\t100,5\n"),
        "quoted_comma_sep": ("time,open,high,low,close\n", '{d},"100,13","101,5","99,87","100,5"\n'),
    }[case]
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    text = rows[0] + "".join(rows[1].format(d=d.date().isoformat()) for d in days)
    frame, info = read_candles_csv_info(text.encode(), name="eu.csv")
    offset = 1000 if case == "thousands_point" else 0
    assert frame["close"].iloc[0] == pytest.approx(offset + 100.5)
    assert frame["open"].iloc[0] == pytest.approx(offset + 100.13) and frame["low"].iloc[0] == pytest.approx(offset + 99.87)
    if case == "thousands_point":
        assert frame["volume"].iloc[0] == pytest.approx(12345.5)
    assert any("decimal comma" in n for n in info.notes)


def test_item1_mixed_decimal_separators_are_refused():
    text = "time;open;high;low;close\n2024-01-01;100,5;101;99;100\n2024-01-02;100.5;101;99;100\n"
    with pytest.raises(CandleError, match="mixes decimal commas .* and decimal points"):
        read_candles_csv(text.encode(), name="mixed.csv")


def test_item1_high_below_low_rows_dropped_or_refused():
    good = "".join(f"2024-02-{d:02d},100,101,99,100\n" for d in range(2, 29))
    frame, info = read_candles_csv_info(f"time,open,high,low,close\n2024-02-01,100,99,101,100\n{good}".encode(),
                                        name="glitch.csv")
    assert len(frame) == 27 and frame.index[0] == pd.Timestamp("2024-02-02", tz="UTC")
    assert any("1 row(s) with the high below the low dropped (line(s) 2)" in n for n in info.notes)
    swapped = "".join(f"2024-02-{d:02d},100,{99 if d <= 10 else 101},{101 if d <= 10 else 99},100\n" for d in range(1, 29))
    with pytest.raises(CandleError, match=r"rows have a high below the low \(line\(s\) 2, 3, 4, 5, 6 …\)"):
        read_candles_csv(f"time,open,high,low,close\n{swapped}".encode(), name="swapped.csv")


# ---- item 3: gzip bombs and memory ---------------------------------------------------------------
def _gzip_stream(head: bytes, filler: bytes, megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    parts = [packer.compress(head)]
    parts += [packer.compress(filler * (2**20 // len(filler))) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


def test_item3_gzip_unpacked_size_is_capped():
    bomb = _gzip_stream(b"time,open,high,low,close\n", b"2024-01-01,1,2,0.5,1\n", 8)
    assert len(bomb) < 100_000
    with pytest.raises(CandleError, match=r"bomb.csv.gz: unpacks to more than 2 MB, the limit for compressed files"):
        read_candles_csv_info(bomb, name="bomb.csv.gz", max_unpacked_bytes=2 * 2**20)
    ok = gzip.compress(b"time,open,high,low,close\n2024-01-01,1,2,0.5,1\n2024-01-02,1,2,0.5,1.5\n")
    assert len(read_candles_csv_info(ok, name="ok.csv.gz", max_unpacked_bytes=2 * 2**20)[0]) == 2


def test_item3_gzip_cap_also_applies_to_files_on_disk(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(_gzip_stream(b"time,close\n", b"9" * 64, 4))
    with pytest.raises(CandleError, match="unpacks to more than 1 MB"):
        read_candles_csv_info(path, max_unpacked_bytes=2**20)


def test_item3_plain_csv_reads_only_the_needed_columns_as_floats():
    # Ten wide text columns the reader does not need: reading them was most of the memory.
    import tracemalloc

    rows = 20_000
    close = np.linspace(100, 200, rows)
    frame = pd.DataFrame({"Date": pd.date_range("2000-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M"),
                          "Close": close.round(3), **{f"note{i}": ["x" * 40] * rows for i in range(10)}})
    data = frame.to_csv(index=False).encode()
    tracemalloc.start()
    out = read_candles_csv(data, name="wide.csv")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(out) == rows
    assert peak < 1.5 * len(data), f"peak {peak / 1e6:.1f} MB for a {len(data) / 1e6:.1f} MB file"


# ---- item 13: UTF-16 and binary files ------------------------------------------------------------
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_item13_utf16_csv_decodes(codec):
    text = "time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,3\n2024-01-02,1.5,2,1,1.7,4\n"
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # with its byte-order mark
    frame, info = read_candles_csv_info(data, name="u16.csv")
    assert info.columns == ["time", "open", "high", "low", "close", "volume"]
    assert frame["close"].tolist() == [1.5, 1.7]


@pytest.mark.parametrize("blob,what", [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(400), "a program"),
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "Excel .xlsx"),
    (bytes(range(256)) * 8, "binary data"),
], ids=["elf", "xlsx", "bytes"])
def test_item13_binary_files_are_not_a_text_csv(blob, what):
    with pytest.raises(CandleError, match=f"x.csv: not a text CSV .*{what}"):
        read_candles_csv(blob, name="x.csv")


# ---- the dashboard: items 2, 4, 5, 11 ------------------------------------------------------------
from streamlit.testing.v1 import AppTest  # noqa: E402

from pricecast.data.datasets import display_name, link_data_problem  # noqa: E402
from pricecast.data.uploads import store_upload  # noqa: E402
from pricecast.spec_io import spec_from_link  # noqa: E402
from ui.text import md  # noqa: E402

CANDLES = "time,open,high,low,close,volume\n" + "\n".join(
    f"2024-01-{d:02d},{100 + d},{101 + d},{99 + d},{100.5 + d},{1000 * d}" for d in range(1, 31)) + "\n"


@pytest.fixture
def app_home(pricecast_home, monkeypatch):
    monkeypatch.chdir(ROOT)
    return pricecast_home


def _open(page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if params:
        at.query_params.update(params)
    at.switch_page(page)
    return at.run()


def _texts(at: AppTest) -> list[str]:
    """Every markdown source the page sent: body, sidebar, captions, messages."""
    return [e.value for kind in ("markdown", "caption", "warning", "info", "error", "success", "title")
            for e in at.get(kind)]


def _unescaped(text: str) -> str:
    return text.replace("\\", "")


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="data_source").set_value("csv").run()
    return at.file_uploader(key="data_upload").set_value((name, data, "text/csv")).run()


def test_item2_uploads_with_the_same_name_never_overwrite(app_home):
    first = store_upload(CANDLES.encode(), "data.csv")
    other = CANDLES.replace("time,open", "Time,Open").encode()
    second = store_upload(other, "data.csv")
    assert first != second and first.name == second.name == "data.csv"
    odd = store_upload(b"other bytes", "my prices (1).csv")
    assert odd.name == "my_prices_1_.csv" and display_name(str(odd)) == "my prices (1).csv"
    assert first.read_bytes() == CANDLES.encode() and second.read_bytes() == other
    assert store_upload(CANDLES.encode(), "data.csv") == first  # same bytes: stored once

    tab_a = _open("pages/1_Data.py")
    _upload(tab_a, "data.csv", CANDLES.encode())
    tab_b = _open("pages/1_Data.py")
    _upload(tab_b, "data.csv", other)
    a, b = tab_a.session_state["pc_spec"].data, tab_b.session_state["pc_spec"].data
    assert a != b and Path(a).read_bytes() == CANDLES.encode()  # tab A's run still finds its data
    sidebar = " ".join(_unescaped(m.value) for m in tab_a.sidebar.markdown)
    assert "**data.csv**" in sidebar and "uploads" not in sidebar  # the file's name, not the storage path


@pytest.mark.parametrize("ref", ["/etc/hostname", "../../../etc/passwd", "SERVER_CSV"])
def test_item4_link_may_not_name_a_server_file(app_home, tmp_path, ref):
    if ref == "SERVER_CSV":
        server_csv = tmp_path / "secret.csv"
        server_csv.write_text(CANDLES)
        ref = str(server_csv)
    at = _open("pages/1_Data.py", {"data": ref, "n": "12"})
    assert not at.exception and not at.error
    spec = at.session_state["pc_spec"]
    assert spec.data == "sample:AAPL" and spec.window.n == 12  # the file refused, the rest of the link kept
    notes = [_unescaped(w.value) for w in at.warning if "link" in _unescaped(w.value)]
    assert len(notes) == 1 and "data=" in notes[0] and "uploaded in this browser session" in notes[0]
    assert at.selectbox(key="data_sample").value == "AAPL"


def test_item4_experiments_page_data_field_takes_no_server_path(app_home, tmp_path):
    server_csv = tmp_path / "secret.csv"
    server_csv.write_text(CANDLES)
    at = _open("pages/6_Experiments.py")
    at.radio(key="exp_mode").set_value("bias-regularizers").run()
    at.text_input(key="exp_data_bias-regularizers").set_value(str(server_csv)).run()
    assert not at.exception
    errors = [_unescaped(e.value) for e in at.error]
    assert any(e.startswith("Data: not a bundled series") for e in errors), errors
    assert not any(b.label.startswith("Run") for b in at.button)  # nothing to start on that file


def test_item4_only_this_sessions_uploads_and_named_data_pass():
    upload = "/home/x/.pricecast/uploads/abc/coin.csv"
    assert link_data_problem(upload, files=[upload]) is None
    assert link_data_problem(upload) is not None
    assert link_data_problem("sample:MSFT") is None and link_data_problem("binance:BTC/USDT:1h") is None
    assert link_data_problem("yahoo:^GSPC:1d") is None
    assert link_data_problem("binance:A/../../../x:1h") is not None


@pytest.mark.parametrize("page", ["pages/0_Home.py", "pages/1_Data.py", "pages/2_Model.py"])
@pytest.mark.parametrize("payload", ["![x](http://127.0.0.1:9/t.png)", "[t](http://127.0.0.1:9/)",
                                     "sample:AAPL **bold** <img src=x>"])
def test_item5_link_text_cannot_inject_markdown(app_home, page, payload):
    at = _open(page, {"data": payload})
    assert not at.exception
    texts = _texts(at) + [m.value for m in at.sidebar.markdown]
    for text in texts:
        assert not re.search(r"(?<!\\)\]\(", text), text  # no live link or image
        assert not re.search(r"(?i)https?\\?:", text), text  # no bare URL either: GFM would link it
        assert not re.search(r"(?<!\\)<img", text) and not re.search(r"(?<!\\)\*\*bold", text), text
    assert any("![x]" in _unescaped(t) or "[t]" in _unescaped(t) or "**bold**" in _unescaped(t) for t in texts)


def test_item5_uploaded_file_names_are_escaped(app_home):
    at = _open("pages/1_Data.py")
    _upload(at, "[t](http://127.0.0.1:9) **x**.csv", CANDLES.encode())
    assert not at.exception and not at.error
    shown = [s.value for s in at.success]
    assert shown and all(not re.search(r"(?<!\\)\]\(|(?<!\\)\*\*x|(?i:https?)\\?:", s) for s in shown)
    assert "[t](http://127.0.0.1:9) **x**.csv" in _unescaped(shown[0]).replace("\u200b", "")
    sidebar = [m.value for m in at.sidebar.markdown]
    assert any("[t](http://127.0.0.1:9) **x**.csv" in _unescaped(m).replace("\u200b", "") for m in sidebar)
    assert all(not re.search(r"(?<!\\)\]\(|(?i:https?)\\?:", m) for m in sidebar)  # the original name, inert
    assert md("a_b *c* [d](e) :red[f] $g$") == r"a\_b \*c\* \[d\]\(e\) \:red\[f\] \$g\$"


HOSTILE_LINKS = {
    "data_foo": ("pages/1_Data.py", {"data": "foo"}, "data=foo"),
    "n_negative": ("pages/2_Model.py", {"n": "-5"}, "n=-5"),
    "n_huge": ("pages/2_Model.py", {"n": "100000"}, "n=100000"),
    "arch_unknown": ("pages/2_Model.py", {"arch": "xgboost"}, "arch=xgboost"),
    "target_unknown": ("pages/2_Model.py", {"target": "price"}, "target=price"),
    "features_unknown": ("pages/2_Model.py", {"features": "close,sentiment"}, "features=close,sentiment"),
    "split_too_big": ("pages/2_Model.py", {"split": "0.99,0.01,0"}, "split=0.99,0.01,0"),
    "dropout": ("pages/2_Model.py", {"dropout": "2"}, "dropout=2"),
    "lr_zero": ("pages/2_Model.py", {"learning_rate": "0"}, "learning_rate=0"),
    "epochs_huge": ("pages/2_Model.py", {"epochs": "1e9"}, "epochs=1e9"),
    "batch_zero": ("pages/2_Model.py", {"batch_size": "0"}, "batch_size=0"),
    "seed_negative": ("pages/2_Model.py", {"seed": "-1"}, "seed=-1"),
    "activation": ("pages/2_Model.py", {"activation": "swish"}, "activation=swish"),
    "optimizer": ("pages/2_Model.py", {"optimizer": "lion"}, "optimizer=lion"),
    "scaling": ("pages/2_Model.py", {"scaling": "log"}, "scaling=log"),
    "units_text": ("pages/2_Model.py", {"units": "big"}, "units=big"),
    "since_garbage": ("pages/1_Data.py", {"since": "yesterday"}, "since=yesterday"),
}


@pytest.mark.parametrize("case", list(HOSTILE_LINKS))
def test_item11_bad_link_values_are_dropped_and_the_page_renders(app_home, case):
    page, params, named = HOSTILE_LINKS[case]
    at = _open(page, {**params, "k": "4"})
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    notes = [_unescaped(w.value) for w in at.warning if "Left out of the link" in _unescaped(w.value)]
    assert len(notes) == 1 and named in notes[0], [w.value for w in at.warning]
    assert at.session_state["pc_spec"].window.k == 4  # the good part of the link is kept
    labels = {w.label for w in [*at.selectbox, *at.number_input, *at.text_input]}
    expected = {"Series"} if page.endswith("1_Data.py") else {"N — past candles in", "Architecture", "Epochs"}
    assert expected <= labels
    if page.endswith("1_Data.py"):  # the candles, then the predictability check's autocorrelation
        drawn = figures(at)
        assert len(drawn) == 2 and drawn[0]["data"][0]["type"] == "candlestick"


@pytest.mark.parametrize("yaml_text,named", [
    ("data: /etc/hostname\n", "data: not a bundled series"),
    ("window: {n: 100000}\n", "n: must be 1 to 5,000"),
    ("model: {arch: xgboost}\n", "arch: 'xgboost' is not one of"),
], ids=["server_path", "n_huge", "arch"])
def test_item4_item11_setup_files_get_the_same_checks_as_links(app_home, yaml_text, named):
    at = _open("pages/2_Model.py", {"k": "4"})
    at.file_uploader(key="model_yaml").set_value(("setup.yaml", yaml_text.encode(), "application/x-yaml")).run()
    assert not at.exception
    assert any(named in _unescaped(e.value) for e in at.error), [e.value for e in at.error]
    spec = at.session_state["pc_spec"]
    assert spec.data == "sample:AAPL" and spec.window.n == 30 and spec.window.k == 4  # the setup is kept
    assert "N — past candles in" in {w.label for w in at.number_input}


def test_item11_every_parsed_parameter_is_checked():
    # Out-of-range or unknown values for every setting the link reader knows are dropped, not kept.
    from pricecast.spec_io import FIELD_SECTION

    bad = {"stride": "0", "kernel_sizes": "0", "strides": "-1", "dense_units": "0", "recurrent_dropout": "1",
           "l1": "-1", "l2": "5", "patience": "-1", "workers": "0", "base_batch_size": "-3", "cnn_head": "x",
           "output_activation": "x", "post_activation": "x", "regularize": "weights", "loss": "x",
           "pipeline": "x", "jit_compile": "sometimes", "mixed_precision": "x", "shuffle": "x", "batch_norm": "x",
           "residual": "x", "per_batch_updates": "x", "live_val_predictions": "x", "preset": "x",
           "persistence_floor": "x", "floor_p": "2", "patch_len": "-1", "heads": "0", "trend_window": "-2"}
    spec, dropped = spec_from_link(bad)
    assert {d.split("=")[0] for d in dropped} == set(bad)
    assert not set(FIELD_SECTION) - set(bad) - {"n", "k", "features", "target", "split", "arch", "units",
                                                 "activation", "dropout", "optimizer", "learning_rate", "epochs",
                                                 "batch_size", "seed"}  # those have their own page cases


def test_item4_a_link_may_cut_an_allowed_series_to_its_clean_stretch_but_never_opens_a_path():
    from pricecast.data.datasets import link_data_problem

    assert link_data_problem("sample:BTC-USD-5M#clean") is None
    assert link_data_problem("binance:BTC/USDT:5m#clean") is None
    assert link_data_problem("../../etc/passwd#clean") is not None


def test_item11_a_link_to_an_edited_preset_keeps_its_label():
    from pricecast.presets import get_preset, labelled
    from pricecast.spec_io import spec_from_link, spec_to_params

    edited = labelled(get_preset("default").spec.replace(scaling="minmax"))
    spec, dropped = spec_from_link({k: [v] for k, v in spec_to_params(edited).items()})
    assert dropped == [] and spec.preset == "custom (from default)" and spec == edited
