"""CSV columns named in other languages, or mapped by the user (``--columns``), and day/month order
decided from the whole column."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from pricecast.cli.main import main
from pricecast.data.candles import CandleError
from pricecast.data.columns import (
    ColumnMappingError,
    parse_columns,
    role_aliases,
    split_columns,
    with_columns,
)
from pricecast.data.csv_import import read_candles_csv, read_candles_csv_info
from pricecast.data.csv_numbers import parse_times
from pricecast.data.datasets import display_name, link_data_problem, load_data

GERMAN = (b"Datum;Eroeffnung;Hoch;Tief;Schluss;Volumen\n"
          b"02.01.2024;100,01;101,5;99,25;100,01;1.234,5\n"
          b"03.01.2024;100,01;102,5;99,75;101,00;2.000,0\n"
          b"04.01.2024;101,00;103,0;100,5;102,50;1.500,0\n")


def test_a_german_broker_export_is_read_without_asking():
    frame, info = read_candles_csv_info(GERMAN, name="depot.csv")
    assert info.mapping == {"time": "Datum", "close": "Schluss", "open": "Eroeffnung", "high": "Hoch", "low": "Tief",
                            "volume": "Volumen"}
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-04"]  # day first
    assert frame["close"].tolist() == [100.01, 101.0, 102.5] and frame["volume"].iloc[0] == 1234.5


def test_korean_and_japanese_exports_are_read_without_asking():
    korean = "일자,시가,고가,저가,종가,거래량\n2024/01/02,100,101,99,100.5,10\n2024/01/03,100.5,102,100,101,12\n"
    frame, info = read_candles_csv_info(korean.encode(), name="krx.csv")
    assert info.mapping == {"time": "일자", "close": "종가", "open": "시가", "high": "고가", "low": "저가", "volume": "거래량"}
    assert frame["close"].tolist() == [100.5, 101.0]
    japanese = "日付,始値,高値,安値,終値,出来高\n2024-01-04,1,2,0.5,1.5,3\n2024-01-05,1.5,2,1,1.8,4\n"
    assert read_candles_csv_info(japanese.encode(), name="jp.csv")[1].mapping["close"] == "終値"


@pytest.mark.parametrize("header, expected", [
    (["Date", "Ouverture", "Plus haut", "Plus bas", "Clôture", "Volume"],
     {"open": "Ouverture", "high": "Plus haut", "low": "Plus bas", "close": "Clôture", "volume": "Volume"}),
    (["Fecha", "Apertura", "Máximo", "Mínimo", "Cierre", "Volumen"],
     {"time": "Fecha", "open": "Apertura", "high": "Máximo", "low": "Mínimo", "close": "Cierre", "volume": "Volumen"}),
    (["FECHA", "APERTURA", "MAXIMO", "MINIMO", "ULTIMO"],  # without accents, upper case
     {"time": "FECHA", "open": "APERTURA", "high": "MAXIMO", "low": "MINIMO", "close": "ULTIMO"}),
])
def test_known_words_of_other_languages(header, expected):
    assert role_aliases(header) == expected


def test_unrecognised_columns_say_how_to_map_them_and_a_mapping_reads_them():
    text = b"when,p_open,p_high,p_low,p_close,qty\n2024-01-02,1,2,0.5,1.5,3\n2024-01-03,1.5,2,1,1.8,4\n"
    with pytest.raises(CandleError, match=r"missing column\(s\) time .* --columns time=COLUMN,close=COLUMN"):
        read_candles_csv(text, name="x.csv")
    mapping = parse_columns("time=when,open=p_open,high=p_high,low=p_low,close=p_close,volume=qty")
    frame, info = read_candles_csv_info(text, name="x.csv", columns=mapping)
    assert info.mapping["close"] == "p_close" and frame["volume"].tolist() == [3.0, 4.0]
    # a mapping wins over a recognised name
    yahoo = b"Date,Close,Adj Close\n2024-01-02,10,5\n2024-01-03,11,6\n"
    assert read_candles_csv(yahoo, columns={"close": "adj close"})["close"].tolist() == [5.0, 6.0]
    with pytest.raises(ColumnMappingError, match="no column 'nope' .*columns: when, p_open"):
        read_candles_csv(text, name="x.csv", columns={"time": "nope", "close": "p_close"})


@pytest.mark.parametrize("text, problem", [
    ("time=a,cls=b", "'cls' is not one of time, open"), ("time=a,time=b", "time is given twice"),
    ("time=,close=b", "no column named for time"), ("time=a,close=a", "one column is given for two roles"),
])
def test_bad_mappings_are_named(text, problem):
    with pytest.raises(ColumnMappingError, match=problem):
        parse_columns(text)


def test_the_mapping_travels_in_the_data_ref(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"when;c\n2024-01-02;1,5\n2024-01-03;1,6\n2024-01-04;1,7\n")
    ref = with_columns(str(path) + "#clean", "time=when,close=c")
    assert ref == f"{path}#columns=time=when,close=c#clean"
    assert split_columns(ref[: -len("#clean")]) == (str(path), {"time": "when", "close": "c"})
    assert with_columns(ref, "time=when,close=c") == ref  # replaced, not stacked
    assert load_data(ref).candles["close"].tolist() == [1.5, 1.6, 1.7]
    assert display_name(ref) == "x.csv#columns=time=when,close=c#clean"
    assert "'x' is not one of" in link_data_problem("sample:AAPL#columns=x=y")


def test_cli_columns_on_data_import_and_show(tmp_path, capsys):
    path = tmp_path / "broker.csv"
    path.write_bytes(b"Tag;Kurs\n02.01.2024;100,5\n03.01.2024;101,5\n15.01.2024;102,5\n")
    assert main(["data", "show", str(path), "--json"]) == 2
    assert "--columns" in capsys.readouterr().err
    assert main(["data", "show", str(path), "--columns", "time=Tag,close=Kurs", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ref"].endswith("#columns=time=Tag,close=Kurs") and shown["rows"] == 3
    assert main(["data", "import", str(path), "--columns", "time=tag,close=kurs", "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["columns"] == {"time": "Tag", "close": "Kurs"} and imported["layout"].startswith("DD.MM.YYYY")
    assert main(["data", "import", str(path), "--columns", "time=Tag,close=Nope"]) == 2
    assert "no column 'Nope'" in capsys.readouterr().err
    from pricecast.cli.common import spec_from_args
    from pricecast.cli.main import build_parser

    args = build_parser().parse_args(["train", "--data", str(path), "--columns", "time=Tag,close=Kurs", "--clean"])
    assert spec_from_args(args).data == f"{path}#columns=time=Tag,close=Kurs#clean"


@pytest.mark.parametrize("values, first, label", [
    (["02.01.2024", "03.01.2024"], "2024-01-02", "DD.MM.YYYY (assumed"),  # dots: European, said so
    (["02/01/2024", "13/01/2024"], "2024-01-02", "DD/MM/YYYY (read from the whole column)"),
    (["01/02/2024", "01/13/2024"], "2024-01-02", "MM/DD/YYYY (read from the whole column)"),
    (["02/01/2024 10:00", "02/01/2024 11:00"], "2024-02-01", "MM/DD/YYYY (assumed"),  # slashes: US, said so
    (["2024-01-02", "2024-01-03"], "2024-01-02", "ISO 8601"),
])
def test_day_and_month_are_decided_from_the_whole_column(values, first, label):
    index, found = parse_times(pd.Series(values), "d", "f.csv")
    assert index[0].strftime("%Y-%m-%d") == first and found.startswith(label)


def test_a_column_mixing_day_first_and_month_first_is_refused():
    with pytest.raises(CandleError, match="mixes day-first .*'13/01/2024'.* and month-first .*'01/13/2024'"):
        parse_times(pd.Series(["13/01/2024", "01/13/2024"]), "d", "f.csv")
