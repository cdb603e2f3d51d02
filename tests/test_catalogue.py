"""The field catalogue: one description per setting drives the CLI options, links, YAML and --vary."""
from __future__ import annotations

import argparse

import pytest

from pricecast.catalogue import FIELDS, Field, SpecError, cli_fields, format_value, overrides_from_args, with_overrides
from pricecast.cli.main import build_parser, main
from pricecast.experiments import spec as ex
from pricecast.spec_io import spec_from_link, spec_from_params, spec_from_yaml, spec_to_params, spec_to_yaml
from pricecast.specs import RunSpec

COMMANDS = (("train",), ("backtest",), ("experiment", "run"))
# Options a command defines itself with its own meaning: backtest --epochs (0 = the preset's) and
# experiment --seed (the first repeat's seed).
OWN = {(("experiment", "run"), "seed")}


def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _setup_options(parser: argparse.ArgumentParser) -> dict[str, tuple]:
    """Option string -> (setting, help, type) for every option that sets a catalogued setting."""
    flags = {f.flag for f in cli_fields()} | {"--no-" + f.flag[2:] for f in cli_fields()}
    return {s: (a.dest, a.help, getattr(a.type, "__name__", None)) for a in parser._actions
            for s in a.option_strings if s in flags}


def test_the_three_clis_expose_the_same_setup_options():
    expected = set()
    for f in cli_fields():
        expected |= {f.flag, "--no-" + f.flag[2:]} if f.kind in ("bool", "optbool") else {f.flag}
    options = {" ".join(path): _setup_options(_subparser(path)) for path in COMMANDS}
    for command, found in options.items():
        assert set(found) == expected, command
    # The same option means the same setting with the same help everywhere, except OWN.
    train = options["train"]
    for path in COMMANDS:
        differing = {flag for flag in expected if options[" ".join(path)][flag] != train[flag]}
        assert differing == {FIELDS[name].flag for p, name in OWN if p == path}, path
    assert {"--arch", "--units", "--dropout", "--l2", "--learning-rate", "--target"} <= set(options["backtest"])


def test_backtest_and_experiment_options_reach_the_spec():
    from pricecast.cli.common import spec_from_args as backtest_spec
    from pricecast.cli.experiment import _experiment_from_args

    args = build_parser().parse_args(["backtest", "--arch", "mlp", "--units", "8,4", "--l2", "0.01", "--n", "12",
                                      "--epochs", "2", "--seed", "3"])
    spec = backtest_spec(args)
    assert (spec.model.arch, spec.model.units, spec.model.l2, spec.window.n, spec.train.seed, spec.train.epochs) == (
        "mlp", (8, 4), 0.01, 12, 3, 2)  # one --epochs: the setup's, which the backtest's models train for
    args = build_parser().parse_args(["experiment", "run", "--vary", "units=4,6", "--arch", "mlp", "--dropout", "0.1",
                                      "--epochs", "2", "--seed", "5"])
    exp = _experiment_from_args(args)
    assert (exp.base.model.arch, exp.base.model.dropout, exp.base.train.epochs, exp.base_seed) == ("mlp", 0.1, 2, 5)
    assert [t.spec.model.units for t in ex.expand(exp)[:2]] == [(4,), (6,)]  # the variations win over --units


@pytest.mark.parametrize("argv, expected", [
    (["--arch", "tcn", "--units", "16", "--kernel-sizes", "2"], {"arch": "tcn", "units": (16,), "kernel_sizes": (2,)}),
    (["--arch", "transformer", "--patch-len", "4", "--heads", "2"], {"arch": "transformer", "patch_len": 4, "heads": 2}),
    (["--arch", "nhits", "--units", "32,32"], {"arch": "nhits", "units": (32, 32)}),
    (["--arch", "dlinear", "--trend-window", "9"], {"arch": "dlinear", "trend_window": 9}),
])
def test_the_newer_architectures_and_their_options_reach_the_spec(argv, expected):
    from pricecast.cli.backtest import spec_from_args as backtest_spec

    spec = backtest_spec(build_parser().parse_args(["backtest", *argv]))
    assert {name: getattr(spec.model, name) for name in expected} == expected
    assert ex.parse_vary([f"arch=cnn,{expected['arch']}"]) == {"arch": ["cnn", expected["arch"]]}


@pytest.mark.parametrize("name, flag, text, vary_text", [
    ("epochs", "--epochs", "0", "0"),
    ("arch", "--arch", "xgboost", "xgboost"),
    ("units", "--units", "32,x", "32/x"),
    ("dropout", "--dropout", "1.5", "1.5"),
    ("split", "--split", "0.5,0.2,0.2", "0.5/0.2/0.2"),
    ("jit_compile", None, "sometimes", "sometimes"),
])
def test_a_bad_value_gets_the_same_message_everywhere(capsys, name, flag, text, vary_text):
    with pytest.raises(SpecError) as url:
        spec_from_params({name: text})
    message = str(url.value)
    assert message.startswith(f"{name}: ")
    problem = message.split(": ", 1)[1]
    section = FIELDS[name].section
    with pytest.raises(SpecError) as yaml:
        spec_from_yaml(f"{section}:\n  {name}: '{text}'\n")
    assert str(yaml.value) == message
    with pytest.raises(ex.ExperimentError) as vary:
        ex.parse_vary([f"{name}={vary_text}"])
    assert str(vary.value) == message
    if name in ("arch", "units", "split", "jit_compile"):  # inside the Model page's ranges: the same reason
        assert spec_from_link({name: text})[1] == [f"{name}={text} ({problem})"]
    if flag is None:
        return
    for path in COMMANDS:
        if (path, name) in OWN:
            continue
        with pytest.raises(SystemExit) as exit_:
            main([*path, flag, text])
        assert exit_.value.code == 2
        assert f"argument {flag}: {problem}" in capsys.readouterr().err


def _other_value(f: Field):
    """A value of ``f`` that is not its default and that every reader accepts."""
    if f.name == "data":
        return "sample:MSFT"
    if f.name == "preset":
        return "default"
    if f.kind == "bool":
        return not f.default
    if f.kind == "optbool":
        return True
    if f.kind == "floats":
        return (0.6, 0.25, 0.15)
    if f.choices is not None:
        other = [c for c in f.choices if c != f.default and c not in (f.default or ())]
        return (other[-1],) if f.is_list else other[-1]
    lo, hi = f.limits
    if f.kind == "ints":
        return (int(lo) + 1, int(lo) + 2)
    if f.kind == "int":
        return int(f.default) + 1
    return (lo + hi) / 4


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_setting_round_trips_through_link_yaml_and_cli(name):
    f = FIELDS[name]
    value = _other_value(f)
    spec = with_overrides(RunSpec(), {name: value})
    assert spec != RunSpec()
    assert spec_from_params(spec_to_params(spec), validate=False)[0] == spec
    assert spec_from_link(spec_to_params(spec))[0] == spec
    assert spec_from_yaml(spec_to_yaml(spec), validate=False) == spec
    assert ex.parse_vary([f"{name}={format_value(value).replace(',', '/')}"]) == {name: [value]}
    if f.flag is None:
        return
    if f.kind in ("bool", "optbool"):
        argv = [f.flag if value else "--no-" + f.flag[2:]]
    else:
        argv = [f.flag, format_value(value)]
    for path in COMMANDS:
        if (path, name) in OWN:
            continue
        args = build_parser().parse_args([*path, *argv])
        assert overrides_from_args(args) == {name: value}, path


def test_backtest_settings_come_from_the_catalogue():
    """BacktestSpec's fields are described once: the CLI options, their checks and defaults follow."""
    from pricecast.backtest.spec import BACKTEST_FIELDS, BacktestSpec
    from pricecast.catalogue import overrides_from_args

    args = build_parser().parse_args(["backtest", "--folds", "3", "--fold-size", "40", "--window", "rolling",
                                      "--levels", "80,95", "--no-relative", "--val-share", "0.2"])
    bt = BacktestSpec(**overrides_from_args(args, BACKTEST_FIELDS))
    assert (bt.folds, bt.fold_size, bt.window, bt.levels, bt.relative, bt.val_share) == (
        3, 40, "rolling", (0.8, 0.95), False, 0.2)
    assert BacktestSpec(**overrides_from_args(build_parser().parse_args(["backtest"]), BACKTEST_FIELDS)) == BacktestSpec()
    assert "epochs" not in {f.name for f in cli_fields(BACKTEST_FIELDS)}  # the setup's --epochs is the one
    with pytest.raises(SystemExit):
        build_parser().parse_args(["backtest", "--levels", "1.5,-2"])


def test_experiment_settings_come_from_the_catalogue(capsys):
    """ExperimentSpec's own settings are described once: `experiment run`'s options (names and help as
    the command had them), their checks and what they set."""
    from pricecast.cli.experiment import _experiment_from_args

    run = _subparser(("experiment", "run"))
    helps = {s: a.help for a in run._actions for s in a.option_strings}
    assert {f.flag for f in cli_fields(ex.EXPERIMENT_FIELDS)} == {
        "--name", "--repeats", "--seed", "--since", "--until", "--size", "--folds"}
    for f in cli_fields(ex.EXPERIMENT_FIELDS):
        assert helps[f.flag] == f.help
    assert helps["--seed"].startswith("seed of the first repeat")  # the experiment's, not a run's seed
    args = build_parser().parse_args(["experiment", "run", "--vary", "units=4,6", "--repeats", "2", "--seed", "7",
                                      "--folds", "2", "--name", "tiny", "--since", "2020-01-01"])
    exp = _experiment_from_args(args)
    assert (exp.repeats, exp.base_seed, exp.folds, exp.name, exp.since, exp.size) == (2, 7, 2, "tiny", "2020-01-01", 1.0)
    assert exp.base.train.seed == RunSpec().train.seed  # --seed is not the base run's seed
    plain = _experiment_from_args(build_parser().parse_args(["experiment", "run", "--vary", "units=4,6"]))
    assert (plain.repeats, plain.base_seed, plain.folds, plain.since) == (3, 0, 0, None)  # the spec's defaults
    for flag, text, said in (("--size", "0", "must be above 0"), ("--repeats", "0", "must be 1 or more"),
                             ("--folds", "-1", "must be 0 or more")):
        with pytest.raises(SystemExit) as exit_:
            main(["experiment", "run", "--vary", "units=4,6", flag, text])
        assert exit_.value.code == 2 and f"argument {flag}: {said}" in capsys.readouterr().err
