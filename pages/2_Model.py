"""Model: windows (N, K, stride, features, scaling, split), the network, training options, presets, YAML."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from pricecast.data.candles import CANDLE_COLUMNS
from pricecast.models.registry import ARCHS
from pricecast.models.spec import (
    ACTIVATIONS,
    ARCHITECTURES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    REGULARIZED,
    ModelSpec,
)
from pricecast.prep.features import PAGE_CHOICES, PAGE_HELP, collapse, expand, is_intraday
from pricecast.prep.scaling import SCALERS
from pricecast.prep.targets import TARGET_CHOICES, TARGETS
from pricecast.prep.windows import WindowSpec
from pricecast.presets import PRESETS, describe_data, kept_as_published, origin_preset, setup_file_name
from pricecast.spec_io import LIMITS, SPLIT_LIMITS
from pricecast.specs import RunSpec, TrainSpec
from ui import common, state, text
from ui.common import HELP


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
        name = c1.selectbox("Preset", names, index=names.index(origin) if origin in names else 0,
                            format_func=lambda n: PRESETS[n].title, help=HELP["preset"], key="model_preset")
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


def _ints(name: str) -> tuple[int, int]:
    """The widget bounds of a whole-number setting: the same as a link or a setup file may hold."""
    lo, hi = LIMITS[name]
    return int(lo), int(hi)


def _pct(part: int) -> tuple[int, int]:
    lo, hi = SPLIT_LIMITS[part]
    return int(round(lo * 100)), int(round(hi * 100))


def _window_widgets(spec: RunSpec, v: int) -> tuple[WindowSpec, str]:
    w = spec.window
    st.subheader("Windows: what the model sees and forecasts")
    c = st.columns(4)
    n = c[0].number_input("N — past candles in", *_ints("n"), int(w.n), help=HELP["n"], key=f"m_n_{v}")
    k = c[1].number_input("K — future candles out", *_ints("k"), int(w.k), help=HELP["k"], key=f"m_k_{v}")
    sliding = c[2].toggle("Sliding windows", value=not (w.stride == w.n + w.k and w.stride > 1), help=HELP["sliding"],
                          key=f"m_sliding_{v}")
    if sliding:
        stride = c[3].number_input("Stride", *_ints("stride"), int(w.stride) if w.stride != w.n + w.k else 1,
                                   help=HELP["stride"], key=f"m_stride_{v}")
    else:
        stride = int(n + k)
        c[3].caption(f"Windows don't overlap: each new example starts {stride} candles later.")
    c = st.columns([2, 1, 1, 1])
    features = _feature_widget(c[0], w, v)
    target = c[1].selectbox("Forecast", list(TARGET_CHOICES), index=list(TARGET_CHOICES).index(w.target)
                            if w.target in TARGET_CHOICES else 0, format_func=_target_name,
                            help=HELP["target"], key=f"m_target_{v}")
    scaling = c[2].selectbox("Scaling", list(SCALERS), index=list(SCALERS).index(spec.scaling)
                             if spec.scaling in SCALERS else 0, help=HELP["scaling"], key=f"m_scaling_{v}")
    with c[3]:
        train_pct = st.number_input("Training %", *_pct(0), int(round(w.split[0] * 100)), help=HELP["split"],
                                    key=f"m_train_{v}")
        val_pct = st.number_input("Validation %", *_pct(1), int(round(w.split[1] * 100)), help=HELP["split"],
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
    explained = HELP["features"] + "\n\n" + "\n".join(f"- **{o}**: {PAGE_HELP[o]}" for o in options)
    picked = where.multiselect("Input features", options, default=[f for f in chosen if f in options],
                               help=explained, key=f"m_features_{v}")
    lines = [f"**{o}**: {PAGE_HELP[o]}" for o in picked if o not in CANDLE_COLUMNS]
    if daily:
        lines.append("Time of day (hour) is not offered: these candles are daily.")
    if lines:
        where.caption("  \n".join(lines))
    return expand(picked)


def _option_widgets(col, option: str, m: ModelSpec, units: tuple[int, ...], v: int) -> dict:
    """The widget of one architecture-specific option (``models.common.OPTIONS``) -> ModelSpec changes."""
    if option == "kernel_sizes":  # one per conv layer
        default = m.kernel_sizes if len(m.kernel_sizes) == len(units) else (m.kernel_sizes[:1] or (3,)) * len(units)
        return {"kernel_sizes": common.parse_int_list(col.text_input(
            "Kernel sizes", ", ".join(map(str, default)), help=HELP["kernel_sizes"],
            key=f"m_kernels_{v}_{len(units)}"), "Kernel sizes")}
    if option == "strides":
        default = m.strides if len(m.strides) == len(units) else (m.strides[:1] or (1,)) * len(units)
        return {"strides": common.parse_int_list(col.text_input(
            "Strides", ", ".join(map(str, default)), help=HELP["strides"], key=f"m_strides_{v}_{len(units)}"),
            "Strides")}
    if option == "cnn_head":
        return {"cnn_head": col.selectbox("Output head", ["dense", "conv"], index=["dense", "conv"].index(m.cnn_head)
                                          if m.cnn_head in ("dense", "conv") else 0, help=HELP["cnn_head"],
                                          key=f"m_head_{v}")}
    if option == "kernel_size":  # one for every layer
        return {"kernel_sizes": (int(col.number_input("Kernel size", 2, _ints("kernel_sizes")[1],
                                                      max(2, int(m.kernel_sizes[0])), help=HELP["tcn_kernel"],
                                                      key=f"m_tcn_kernel_{v}")),)}
    if option == "patch_len":
        return {"patch_len": int(col.number_input("Patch length (0 = N // 8)", *_ints("patch_len"), int(m.patch_len),
                                                  help=HELP["patch_len"], key=f"m_patch_{v}"))}
    if option == "heads":
        return {"heads": int(col.number_input("Attention heads", *_ints("heads"), int(m.heads), help=HELP["heads"],
                                              key=f"m_heads_{v}"))}
    if option == "trend_window":
        return {"trend_window": int(col.number_input("Trend window (0 = 25 or N)", *_ints("trend_window"),
                                                     int(m.trend_window), help=HELP["trend_window"],
                                                     key=f"m_trend_{v}"))}
    if option == "recurrent_dropout":
        return {"recurrent_dropout": col.slider("Recurrent dropout", *LIMITS["recurrent_dropout"],
                                                float(m.recurrent_dropout), 0.05, help=HELP["recurrent_dropout"],
                                                key=f"m_rdrop_{v}")}
    raise ValueError(f"no widget for the model option '{option}'")


def _model_widgets(spec: RunSpec, v: int) -> ModelSpec:
    m = spec.model
    st.subheader("Network")
    c = st.columns(4)
    arch = c[0].selectbox("Architecture", list(ARCHITECTURES), index=list(ARCHITECTURES).index(m.arch),
                          format_func=lambda a: ARCHS[a].label, help=HELP["arch"], key=f"m_arch_{v}")
    entry = ARCHS[arch]
    units_label = entry.units_label or "Units per layer"
    units = common.parse_int_list(c[1].text_input(units_label, ", ".join(map(str, m.units)), help=HELP["units"],
                                                  disabled=not entry.units_label, key=f"m_units_{v}"), units_label)
    dense = common.parse_int_list(c[2].text_input("Extra dense layers", ", ".join(map(str, m.dense_units)),
                                                  help=HELP["dense_units"], key=f"m_dense_{v}"), "Extra dense layers",
                                  allow_empty=True)
    activation = c[3].selectbox("Activation", list(ACTIVATIONS), index=list(ACTIVATIONS).index(m.activation)
                                if m.activation in ACTIVATIONS else 0, help=HELP["activation"], key=f"m_act_{v}")
    st.caption(f"**{entry.label}** — {entry.help}")
    c = st.columns(4)
    options: dict = {}
    for col, option in zip(c[:3], entry.options):  # at most three: the fourth column is the output activation
        options.update(_option_widgets(col, option, m, units, v))
    out_act = c[3].selectbox("Output activation", list(OUTPUT_ACTIVATIONS),
                             index=list(OUTPUT_ACTIVATIONS).index(m.output_activation)
                             if m.output_activation in OUTPUT_ACTIVATIONS else 0,
                             help=HELP["output_activation"], key=f"m_outact_{v}")
    c = st.columns(4)
    dropout = c[0].slider("Dropout", *LIMITS["dropout"], float(m.dropout), 0.05, help=HELP["dropout"], key=f"m_drop_{v}")
    post = c[1].selectbox("Activation after the body", ["", *ACTIVATIONS],
                          index=["", *ACTIVATIONS].index(m.post_activation) if m.post_activation in ACTIVATIONS else 0,
                          format_func=lambda a: a or "(none)", help=HELP["post_activation"], key=f"m_post_{v}")
    batch_norm = c[2].checkbox("Batch normalisation", value=m.batch_norm, help=HELP["batch_norm"], key=f"m_bn_{v}")
    residual = c[3].checkbox("Predict the change", value=m.residual, help=HELP["residual"],
                             key=f"m_residual_{v}")
    c = st.columns(4)
    l1 = c[0].number_input("L1 penalty", *LIMITS["l1"], float(m.l1), 1e-5, format="%.6f", help=HELP["l1"], key=f"m_l1_{v}")
    l2 = c[1].number_input("L2 penalty", *LIMITS["l2"], float(m.l2), 1e-5, format="%.6f", help=HELP["l2"], key=f"m_l2_{v}")
    regularize = c[2].multiselect("Penalise which weights", list(REGULARIZED),
                                  default=[r for r in m.regularize if r in REGULARIZED], help=HELP["regularize"],
                                  key=f"m_reg_{v}")
    optimizer = c[3].selectbox("Optimizer", list(OPTIMIZERS), index=list(OPTIMIZERS).index(m.optimizer)
                               if m.optimizer in OPTIMIZERS else 0, help=HELP["optimizer"], key=f"m_opt_{v}")
    return m.replace(**options, arch=arch, units=units, dense_units=dense, activation=activation,
                     output_activation=out_act,
                     dropout=dropout, post_activation=post, batch_norm=batch_norm, residual=residual, l1=l1, l2=l2,
                     regularize=tuple(regularize), optimizer=optimizer)


def _train_widgets(spec: RunSpec, model: ModelSpec, v: int) -> tuple[ModelSpec, TrainSpec]:
    t = spec.train
    st.subheader("Training")
    c = st.columns(5)
    lr = c[0].number_input("Learning rate", *LIMITS["learning_rate"], float(model.learning_rate), 1e-4, format="%.5f",
                           help=HELP["learning_rate"], key=f"m_lr_{v}")
    batch = c[1].number_input("Batch size", *_ints("batch_size"), int(t.batch_size), help=HELP["batch_size"], key=f"m_batch_{v}")
    epochs = c[2].number_input("Epochs", *_ints("epochs"), int(t.epochs), help=HELP["epochs"], key=f"m_epochs_{v}")
    patience = c[3].number_input("Early stopping patience", *_ints("patience"), int(t.patience), help=HELP["patience"],
                                 key=f"m_patience_{v}")
    seed = c[4].number_input("Random seed", *_ints("seed"), int(t.seed), help=HELP["seed"], key=f"m_seed_{v}")
    shuffle = st.checkbox("Shuffle training examples each epoch", value=t.shuffle, help=HELP["shuffle"],
                          key=f"m_shuffle_{v}")
    f = st.columns([3, 1])
    floor = f[0].toggle("Fall back to 'no change' when the network does not beat it on validation",
                        value=t.persistence_floor, help=HELP["persistence_floor"], key=f"m_floor_{v}")
    floor_p = f[1].number_input("…needed p below", *LIMITS["floor_p"], float(t.floor_p), 0.01, format="%.2f",
                                disabled=not floor, help=HELP["floor_p"], key=f"m_floor_p_{v}")
    f[0].caption("Why: most price series are close to a random walk, where a trained network often only adds noise "
                 "to 'no change'; the fallback keeps the forecast you use honest, while the network's own forecast "
                 "is still trained, scored and drawn.")
    with st.expander("Speed options"):
        s = st.columns(4)
        scale_lr = s[0].checkbox("Scale the learning rate with the batch", value=t.base_batch_size > 0,
                                 help=HELP["base_batch_size"], key=f"m_scale_lr_{v}")
        base = s[1].number_input("…tuned for batch size", 1, int(LIMITS["base_batch_size"][1]), int(t.base_batch_size or 32),
                                 disabled=not scale_lr, help=HELP["base_batch_size"], key=f"m_base_batch_{v}")
        xla = s[2].checkbox("XLA compilation", value=bool(t.jit_compile), help=HELP["jit_compile"],
                            key=f"m_xla_{v}")
        mixed = s[3].checkbox("Mixed precision (GPU)", value=t.mixed_precision, help=HELP["mixed_precision"],
                              key=f"m_mixed_{v}")
    return model.replace(learning_rate=float(lr)), replace(
        t, batch_size=int(batch), epochs=int(epochs), patience=int(patience), seed=int(seed), shuffle=shuffle,
        base_batch_size=int(base) if scale_lr else 0, jit_compile=True if xla else None,
        mixed_precision=bool(mixed), persistence_floor=bool(floor), floor_p=float(floor_p))


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
