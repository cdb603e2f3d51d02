"""pricecast dashboard. Run: ``streamlit run app.py``.

The entry point only routes: each page is a script in ``pages/``, shared helpers are in ``ui/``.
Opening the app loads no TensorFlow: Keras is imported only when a model is trained or its
summary is asked for.
"""
import streamlit as st

PAGES = [
    st.Page("pages/0_Home.py", title="Home", icon="📈", default=True),
    st.Page("pages/1_Data.py", title="Data", icon="📊"),
    st.Page("pages/2_Model.py", title="Model", icon="🧠"),
    st.Page("pages/3_Train.py", title="Train", icon="🏋️"),
    st.Page("pages/4_Results.py", title="Results", icon="🎯"),
    st.Page("pages/5_Runs.py", title="Runs", icon="🗂️"),
    st.Page("pages/6_Experiments.py", title="Experiments", icon="🧪"),
]

st.navigation(PAGES).run()
