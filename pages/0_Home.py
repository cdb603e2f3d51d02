"""Home: what pricecast does and the four steps. Opening it loads no TensorFlow."""
import streamlit as st

from pricecast.stories import STORIES
from ui import common, state, text


def body() -> None:
    st.title("pricecast")
    st.markdown(
        "Forecast prices with a neural network — **from the last N candles to the next K** — and see honestly "
        "whether it beats the simplest guess, *“the price stays where it is”* (persistence)."
    )
    spec = state.current_spec()
    st.subheader("Four steps")
    cols = st.columns(4)
    steps = [
        ("pages/1_Data.py", "1 · Data", common.ICON["Data"],
         f"Pick the prices. Now: **{text.md(common.data_label(spec.data))}** (works offline)."),
        ("pages/2_Model.py", "2 · Model", common.ICON["Model"],
         f"Shape the windows and the network, or pick a preset. Now: {text.md(spec.headline())}."),
        ("pages/3_Train.py", "3 · Train", common.ICON["Train"], "Press Train and watch the loss and the forecasts improve live."),
        ("pages/4_Results.py", "4 · Results", common.ICON["Results"], "Actual vs predicted on unseen data, beside the baselines."),
    ]
    for col, (path, label, icon, line) in zip(cols, steps):
        with col.container(border=True):
            st.page_link(path, label=label, icon=icon)
            st.markdown(line)
    _stories()
    st.page_link("pages/5_Runs.py", label="Runs: compare, download or delete earlier runs", icon=common.ICON["Runs"])
    st.page_link("pages/6_Experiments.py", label="Experiments: compare settings over repeated runs", icon=common.ICON["Experiments"])
    st.info("New here? Everything is already set up with a small, fast model on Apple's daily prices: "
            "go straight to **3 · Train** and press **Train**.", icon=":material/lightbulb:")
    with st.expander("What do N, K, training, validation and test mean?"):
        st.markdown(
            "- **N** — how many past candles the model looks at for one forecast.\n"
            "- **K** — how many future candles it forecasts at once.\n"
            "- The history is cut by time into **training** (the model learns from it), **validation** (watched "
            "while learning, to stop at the right moment) and **test** (the newest part, never seen: the honest score).\n"
            "- **Persistence** forecasts that the price stays at its last value. A model with a *skill* above 0 "
            "beats it; many price models don't.\n"
            "- **Overfitting**: the training loss keeps falling while the validation loss rises — the model memorises "
            "instead of learning."
        )


def _stories() -> None:
    st.subheader("Three stories, one click each")
    st.markdown("Each trains a small network (under half a minute of training on two CPU cores) and opens its "
                "training; then look at **4 · Results**.")
    for col, story in zip(st.columns(len(STORIES)), STORIES.values()):
        with col.container(border=True):
            st.markdown(f"**{story.title}**  \n{story.teaser}")
            if st.button("Train it", key=f"story_{story.key}", help=f"{story.lesson} (Command line: "
                         f"{story.command()})", type="primary" if story.key == "pattern" else "secondary"):
                state.set_spec(story.spec)
                state.set_data_range(None, None)
                state.request_training()
                st.switch_page("pages/3_Train.py")
            st.caption(story.lesson)


common.run_page("Home", common.ICON["Home"], body)
