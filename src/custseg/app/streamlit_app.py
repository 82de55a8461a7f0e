"""custseg dashboard: the entry file (``streamlit run`` this, or ``custseg app``).

Sets the page up, initialises session state, builds the navigation, draws the shared
sidebar, then runs the chosen page. Each page is one file in ``app_pages/``; a
CustsegError a page lets through is shown as its message, never as an exception.
"""

import streamlit as st

from custseg.app import sidebar, state
from custseg.app.ui import context_banner, show_error
from custseg.errors import CustsegError

st.set_page_config(
    page_title="custseg · customer segments",
    page_icon=":material/donut_large:",
    layout="wide",
)
state.init()

# Page paths are relative to this file, as st.Page resolves them.
navigation = st.navigation(
    [
        st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True),
        st.Page("app_pages/explore.py", title="Explore", icon=":material/scatter_plot:",
                url_path="explore"),
        st.Page("app_pages/predict.py", title="Predict", icon=":material/person_search:",
                url_path="predict"),
        st.Page("app_pages/batch.py", title="Batch", icon=":material/upload_file:", url_path="batch"),
        st.Page("app_pages/model_lab.py", title="Model Lab", icon=":material/science:",
                url_path="model-lab"),
    ]
)
sidebar.render()
context_banner(state.view())  # the data and model shown, and warnings, above every page
try:
    navigation.run()
except CustsegError as exc:  # a page met input it cannot use: say why, as the sidebar does
    show_error(exc)
