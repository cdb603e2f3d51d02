"""Model: windows (N, K, stride, features, scaling, split), the network, training options, presets, YAML."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from pricecast.catalogue import FIELDS
from pricecast.data.candles import CANDLE_COLUMNS
from pricecast.models.registry import ARCHS
from pricecast.models.spec import ModelSpec
from pricecast.prep.features import PAGE_CHOICES, PAGE_HELP, collapse, expand, is_intraday
from pricecast.prep.targets import TARGETS
from pricecast.prep.windows import WindowSpec
from pricecast.presets import PRESETS, describe_data, kept_as_published, origin_preset, setup_file_name
from pricecast.spec_io import SPLIT_LIMITS
from pricecast.specs import RunSpec, TrainSpec
from ui import common, state, text
from ui.common import HELP
from ui.inputs import widget


def _target_name(name: str) -> str:
    target = TARGETS[name]
    return f"{name} ({target.label})" if target.label != name else name


def _presets():
    """The preset picker; returns a slot for the setup's name, filled once this run's edits are in."""
    spec = state.current_spec()
    with st.container(border=True):
        st.subheader("Start from a preset")
        names = list(PRESETS)
        c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
        origin = origin_preset(spec.preset)
        name = c1.selectbox(FIELDS["preset"].label, names, index=names.index(origin) if origin in names else 0,
                            format_func=lambda n: PRESETS[n].title, help=FIELDS["preset"].page_help(),
                            key="model_preset")
        preset = PRESETS[name]
        choices = {"keep": f"Keep my data ({text.md(common.data_label(spec.data))})",
                   "own": f"Its data ({preset.spec.data})"}
        if preset.live_data:
            choices["live"] = f"Its live source ({preset.live_data}, needs internet)"
        # A preset made for its kind of data starts on it (bundled, offline): N=256 five-minute windows
        # or "4 days -> 6 hours" make little sense on daily stocks. Keeping one's data is a choice made here.
        data_choice = c2.radio("Data", list(choices), index=0 if preset.any_data else 1, format_func=choices.get,
                               help=HELP["preset_data"], key=f"model_preset_data_{name}")
        if c3.button("Apply preset", type="primary", help="Replace the settings below with this preset's."):
            data = {"keep": spec.data, "own": preset.spec.data, "live": preset.live_data}[data_choice]
            state.set_spec(preset.spec.replace(data=data))
            if data_choice == "live":
                st.session_state["model_note"] = (f"{data} comes from the internet: open the Data page "
                                                  "and press Load before training.")
            st.rerun()
        if preset.why:
            st.info(preset.why)
        st.caption(f"{preset.source}.  \n**Data:** {describe_data(preset.spec.data)}"
                   + (f"; the tutorial's own live source: {preset.live_data}" if preset.live_data else ""))
        slot = st.empty()
    note = st.session_state.pop("model_note", None)
    if note:
        st.info(note)
    return slot


def _pct(part: int) -> tuple[int, int]:
    lo, hi = SPLIT_LIMITS[part]
    return int(round(lo * 100)), int(round(hi * 100))


def _window_widgets(spec: RunSpec, v: int) -> tuple[WindowSpec, str]:
    w = spec.window
    st.subheader("Windows: what the model sees and forecasts")
    c = st.columns(4)
    n = widget(FIELDS["n"], w.n, f"m_n_{v}", c[0])
    k = widget(FIELDS["k"], w.k, f"m_k_{v}", c[1])
    sliding = c[2].toggle("Sliding windows", value=not (w.stride == w.n + w.k and w.stride > 1), help=HELP["sliding"],
                          key=f"m_sliding_{v}")
    if sliding:
        stride = widget(FIELDS["stride"], w.stride if w.stride != w.n + w.k else 1, f"m_stride_{v}", c[3])
    else:
        stride = int(n + k)
        c[3].caption(f"Windows don't overlap: each new example starts {stride} candles later.")
    c = st.columns([2, 1, 1, 1])
    features = _feature_widget(c[0], w, v)
    target = widget(FIELDS["target"], w.target, f"m_target_{v}", c[1], format_func=_target_name)
    scaling = widget(FIELDS["scaling"], spec.scaling, f"m_scaling_{v}", c[2])
    with c[3]:  # the three shares as two percentages, the test's the rest
        split_help = FIELDS["split"].page_help()
        train_pct = st.number_input("Training %", *_pct(0), int(round(w.split[0] * 100)), help=split_help,
                                    key=f"m_train_{v}")
        val_pct = st.number_input("Validation %", *_pct(1), int(round(w.split[1] * 100)), help=split_help,
                                  key=f"m_val_{v}")
        test_pct = 100 - train_pct - val_pct
        st.caption(f"Test: {test_pct}% (the newest candles)")
    split = (train_pct / 100, val_pct / 100, max(test_pct, 0) / 100)
    window = WindowSpec(n=int(n), k=int(k), stride=int(stride), features=tuple(features), target=target,
                        split=split if test_pct > 0 else (train_pct / 100, val_pct / 100, 0.0))
    return window, scaling


def _feature_widget(where, w: WindowSpec, v: int) -> tuple[str, ...]:
    """Candle columns and derived inputs, each explained in the help; time of day only on intraday data."""
    candles, _ = state.load_current()
    daily = candles is not None and len(candles) > 1 and not is_intraday(candles.index)
    options = [o for o in PAGE_CHOICES if not (daily and o == "hour")]
    chosen = collapse(w.features)
    explained = FIELDS["features"].page_help() + "\n\n" + "\n".join(f"- **{o}**: {PAGE_HELP[o]}" for o in options)
    picked = where.multiselect(FIELDS["features"].label, options, default=[f for f in chosen if f in options],
                               help=explained, key=f"m_features_{v}")
    lines = [f"**{o}**: {PAGE_HELP[o]}" for o in picked if o not in CANDLE_COLUMNS]
    if daily:
        lines.append("Time of day (hour) is not offered: these candles are daily.")
    if lines:
        where.caption("  \n".join(lines))
    return expand(picked)


def _option_widgets(col, option: str, m: ModelSpec, units: tuple[int, ...], v: int) -> dict:
    """The widget of one architecture-specific option (``models.common.OPTIONS``) -> ModelSpec changes."""
    if option in ("kernel_sizes", "strides"):  # one per conv layer, keyed by the layer count
        have = getattr(m, option)
        default = have if len(have) == len(units) else (have[:1] or FIELDS[option].default) * len(units)
        key = {"kernel_sizes": "kernels", "strides": "strides"}[option]
        return {option: widget(FIELDS[option], default, f"m_{key}_{v}_{len(units)}", col)}
    if option == "kernel_size":  # the TCN's: one for every block
        return {"kernel_sizes": (int(col.number_input("Kernel size", 2, int(FIELDS["kernel_sizes"].limits[1]),
                                                      max(2, int(m.kernel_sizes[0])),
                                                      help=FIELDS["kernel_sizes"].page_help(),
                                                      key=f"m_tcn_kernel_{v}")),)}
    keys = {"cnn_head": "head", "patch_len": "patch", "heads": "heads", "trend_window": "trend",
            "recurrent_dropout": "rdrop"}
    if option in keys:
        return {option: widget(FIELDS[option], getattr(m, option), f"m_{keys[option]}_{v}", col)}
    raise ValueError(f"no widget for the model option '{option}'")


def _model_widgets(spec: RunSpec, v: int) -> ModelSpec:
    m = spec.model
    st.subheader("Network")
    c = st.columns(4)
    arch = widget(FIELDS["arch"], m.arch, f"m_arch_{v}", c[0], format_func=lambda a: ARCHS[a].label)
    entry = ARCHS[arch]
    units = widget(FIELDS["units"], m.units, f"m_units_{v}", c[1], label=entry.units_label or None,
                   disabled=not entry.units_label)
    dense = widget(FIELDS["dense_units"], m.dense_units, f"m_dense_{v}", c[2])
    activation = widget(FIELDS["activation"], m.activation, f"m_act_{v}", c[3])
    st.caption(f"**{entry.label}** — {entry.help}")
    c = st.columns(4)
    options: dict = {}
    for col, option in zip(c[:3], entry.options):  # at most three: the fourth column is the output activation
        options.update(_option_widgets(col, option, m, units, v))
    out_act = widget(FIELDS["output_activation"], m.output_activation, f"m_outact_{v}", c[3])
    c = st.columns(4)
    dropout = widget(FIELDS["dropout"], m.dropout, f"m_drop_{v}", c[0])
    post = widget(FIELDS["post_activation"], m.post_activation, f"m_post_{v}", c[1])
    batch_norm = widget(FIELDS["batch_norm"], m.batch_norm, f"m_bn_{v}", c[2])
    residual = widget(FIELDS["residual"], m.residual, f"m_residual_{v}", c[3])
    c = st.columns(4)
    l1 = widget(FIELDS["l1"], m.l1, f"m_l1_{v}", c[0])
    l2 = widget(FIELDS["l2"], m.l2, f"m_l2_{v}", c[1])
    regularize = widget(FIELDS["regularize"], m.regularize, f"m_reg_{v}", c[2])
    optimizer = widget(FIELDS["optimizer"], m.optimizer, f"m_opt_{v}", c[3])
    return m.replace(**options, arch=arch, units=units, dense_units=dense, activation=activation,
                     output_activation=out_act, dropout=dropout, post_activation=post, batch_norm=batch_norm,
                     residual=residual, l1=l1, l2=l2, regularize=regularize, optimizer=optimizer)


def _train_widgets(spec: RunSpec, model: ModelSpec, v: int) -> tuple[ModelSpec, TrainSpec]:
    t = spec.train
    st.subheader("Training")
    c = st.columns(5)
    lr = widget(FIELDS["learning_rate"], model.learning_rate, f"m_lr_{v}", c[0])
    batch = widget(FIELDS["batch_size"], t.batch_size, f"m_batch_{v}", c[1])
    epochs = widget(FIELDS["epochs"], t.epochs, f"m_epochs_{v}", c[2])
    patience = widget(FIELDS["patience"], t.patience, f"m_patience_{v}", c[3])
    seed = widget(FIELDS["seed"], t.seed, f"m_seed_{v}", c[4])
    shuffle = widget(FIELDS["shuffle"], t.shuffle, f"m_shuffle_{v}")
    f = st.columns([3, 1])
    floor = widget(FIELDS["persistence_floor"], t.persistence_floor, f"m_floor_{v}", f[0])
    floor_p = widget(FIELDS["floor_p"], t.floor_p, f"m_floor_p_{v}", f[1], disabled=not floor)
    f[0].caption("Why: most price series are close to a random walk, where a trained network often only adds noise "
                 "to 'no change'; the fallback keeps the forecast you use honest, while the network's own forecast "
                 "is still trained, scored and drawn.")
    with st.expander("Speed options"):
        s = st.columns(4)
        # base_batch_size 0 (off) is a checkbox here; the box beside it holds the batch size the rest was tuned for
        scale_lr = s[0].checkbox("Scale the learning rate with the batch", value=t.base_batch_size > 0,
                                 help=FIELDS["base_batch_size"].page_help(), key=f"m_scale_lr_{v}")
        base = widget(FIELDS["base_batch_size"], t.base_batch_size or 32, f"m_base_batch_{v}", s[1], min_value=1,
                      disabled=not scale_lr)
        xla = widget(FIELDS["jit_compile"], t.jit_compile, f"m_xla_{v}", s[2])
        mixed = widget(FIELDS["mixed_precision"], t.mixed_precision, f"m_mixed_{v}", s[3])
    return model.replace(learning_rate=lr), replace(
        t, batch_size=batch, epochs=epochs, patience=patience, seed=seed, shuffle=shuffle,
        base_batch_size=base if scale_lr else 0, jit_compile=xla, mixed_precision=mixed, persistence_floor=floor,
        floor_p=floor_p)


def _check(spec: RunSpec) -> None:
    """Shapes and sizes before any training (no TensorFlow): errors with the fix, or what will train."""
    from pricecast.models.checks import count_params
    from pricecast.spec_io import SpecError, validate_spec
    from pricecast.training.pipeline import prepare

    try:
        validate_spec(spec)
    except SpecError as exc:
        st.error(f"This setup cannot train yet: {text.plain(exc)}", icon=":material/block:")
        return
    params = count_params(spec.model, spec.window.n, spec.window.k, len(spec.window.features))
    candles, error = state.load_current()
    if candles is None:
        st.warning(f"Shapes fit ({params:,} parameters), but the data is not available: {error}")
        return
    try:
        prep = prepare(spec, candles)
    except ValueError as exc:  # window / scaling / too-few-examples errors say what to change
        st.error(f"Not ready to train — {text.plain(exc)}", icon=":material/block:")
        return
    counts = prep.counts
    w = spec.window
    st.success(
        f"Ready to train: each example is **{w.n} past candle(s)** of {', '.join(w.features)} → the **next {w.k} "
        f"{w.target}** value(s). Examples — training **{counts.train:,}**, validation **{counts.val:,}**, "
        f"test **{counts.test:,}**. Network: **{params:,} parameters**.",
        icon=":material/check_circle:",
    )
    tutorial = kept_as_published(spec)
    for warning in counts.warnings:
        if tutorial:  # a faithful copy warns about itself: say that this is the tutorial's setup, on purpose
            warning = f"This is the tutorial's own setup, kept as it was ({tutorial}). On this data: {warning}"
        st.warning(text.md(warning), icon=":material/warning:")
    if params > 20 * max(counts.train, 1):
        st.warning("The network has far more parameters than there are training examples: expect overfitting "
                   "(validation loss rising). Use fewer units, more dropout, or more data.")


def _summary_button(spec: RunSpec) -> None:
    if st.button("Show model summary", help="Build the network and list its layers (in a worker process that "
                 "loads TensorFlow, which takes a few seconds)."):
        try:
            summary = common.quick_job("summary", {"spec": spec.to_dict()}, what="Building the network")
        except ValueError as exc:
            st.error(text.plain(exc))
            return
        st.code(summary["text"], language=None)
        st.caption(f"{summary['params']:,} parameters in total.")


def _yaml(spec: RunSpec) -> None:
    from pricecast.data.datasets import link_data_problem
    from pricecast.spec_io import spec_from_yaml, spec_problems, spec_to_yaml

    st.subheader("Save or share this setup")
    c1, c2 = st.columns(2)
    name = setup_file_name(spec)
    c1.download_button("Download setup (YAML)", spec_to_yaml(spec), file_name=name, mime="application/x-yaml",
                       help="A small text file with every setting; load it here later to reproduce this setup.")
    c1.caption("The page address (URL) also holds the whole setup: copy it from the address bar to share it.")
    uploaded = c2.file_uploader("Load a setup (YAML)", type=["yaml", "yml"], help=HELP["yaml_upload"], key="model_yaml")
    if uploaded is not None and st.session_state.get("model_yaml_done") != uploaded.file_id:
        st.session_state["model_yaml_done"] = uploaded.file_id
        try:
            loaded = spec_from_yaml(uploaded.getvalue(), validate=False)
        except ValueError as exc:  # SpecError: not YAML, unknown keys, bad values
            st.error(f"{text.md(uploaded.name)}: {text.plain(exc)}")
            return
        # A setup file is as untrusted as a link: the same values and data references are allowed.
        problems = spec_problems(loaded)
        if (why := link_data_problem(loaded.data, state.session_uploads())) is not None:
            problems.append(f"data: {why}")
        if problems:
            st.error(f"{text.md(uploaded.name)} was not loaded: {text.md('; '.join(problems))}.")
            return
        state.set_spec(loaded)
        st.rerun()


def body() -> None:
    st.title("Model")
    st.caption("Step 2 of 4 — how the history is cut into examples, and the network that learns from them.")
    name_slot = _presets()
    spec = state.current_spec()
    v = state.spec_version()
    try:
        with st.container(border=True):
            window, scaling = _window_widgets(spec, v)
        with st.container(border=True):
            model = _model_widgets(spec, v)
            model, train = _train_widgets(spec, model, v)
    except ValueError as exc:  # a list that cannot be read: keep the last good setup
        st.error(text.plain(exc))
        return
    new = spec.replace(window=window, scaling=scaling, model=model, train=train)
    if new != spec:
        state.set_spec(new, external=False)
    spec = state.current_spec()
    if spec.preset.startswith("custom"):
        name_slot.caption(f"Your setup is now **{spec.preset}**: at least one setting differs from the preset.")
    _check(spec)
    _summary_button(spec)
    _yaml(spec)
    st.page_link("pages/3_Train.py", label="Next: train it", icon=common.NEXT)


common.run_page("Model", common.ICON["Model"], body)
